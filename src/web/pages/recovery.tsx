/** Recovery ladders of every deployment: where each instance stands, the limits taken, give-ups; reset. */
import { useState } from 'preact/hooks';
import { call } from '../api';
import type { RecoveryView } from '../api-types';
import { useSession } from '../app';
import { href } from '../router';
import { can } from '../session';
import { Empty, Failure, FormError, Pill, useLoad } from '../ui';

export function RecoveryPage() {
  const { me } = useSession();
  const all = useLoad(async (signal) => {
    const { deployments } = await call('listDeployments', { signal });
    const views = await Promise.all(deployments.map((d) => call('getRecovery', { params: { name: d.name }, signal }).catch(() => undefined)));
    return views.filter((v): v is RecoveryView => v !== undefined && v.instances.length > 0);
  }, []);
  const [error, setError] = useState<unknown>(undefined);
  const reset = async (deployment: string, instance: string): Promise<void> => {
    try {
      await call('resetRecovery', { params: { name: deployment, instance } });
      all.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section>
      <h1>Recovery</h1>
      <Failure error={all.error} />
      <FormError error={error} fields={[]} />
      {all.data && all.data.length === 0 && <Empty>No deployment has a recovery policy with instances to watch.</Empty>}
      {all.data?.map((v) => (
        <>
          <h2><a href={href('deployments', v.deployment)}>{v.deployment}</a></h2>
          <table class="list" aria-label={`recovery of ${v.deployment}`}>
            <thead><tr><th>Instance</th><th>Status</th><th>Ladder</th><th>Where it stands</th><th></th></tr></thead>
            <tbody>{v.instances.map((i) => (
              <tr>
                <td>{i.instance}</td>
                <td><Pill value={i.status} /></td>
                <td>{i.ladder.map((s) => <span class={s === i.step ? 'rung on' : 'rung'}>{s}</span>)}</td>
                <td>{i.line}</td>
                <td>{i.status === 'gave-up' && can(me, 'resetRecovery') && <button type="button" onClick={() => void reset(v.deployment, i.instance)}>Reset</button>}</td>
              </tr>
            ))}</tbody>
          </table>
        </>
      ))}
    </section>
  );
}
