/** Recovery ladders as the CLI shows them: `nubis recovery status` and the lines under `nubis status`. */
import type { RecoveryView } from '../operations/index.js';
import type { ApiClient } from './client.js';
import { enc } from './command.js';
import type { Style } from './format.js';

/** One line per instance; given-up ones in red, recovering ones in yellow. */
export function recoveryLines(style: Style, v: RecoveryView): string[] {
  return v.instances.map((i) => {
    const text = `${i.instance}: ${i.line}`;
    return i.status === 'gave-up' ? style.red(text) : i.status === 'recovering' ? style.yellow(text) : text;
  });
}

/** The deployment's recovery view, or undefined when the server has none (or the deployment no policy). */
export function fetchRecovery(client: ApiClient, deployment: string): Promise<RecoveryView | undefined> {
  return client.get<RecoveryView>(`/v1/deployments/${enc(deployment)}/recovery`).then(
    (v) => (v.instances.length > 0 ? v : undefined),
    () => undefined,
  );
}

