/**
 * First boot of a node, in three steps that `status` shows (the seed's start work flow: boot,
 * configure through cloud-init, poll until really reachable):
 *
 * - **booting**: the create was sent; the cloud says the node is provisioning;
 * - **contextualizing**: the cloud says it runs, its agent does not answer yet (cloud-init is
 *   installing and starting it);
 * - **agent up**: the agent answered over the network. Only now is the node ready: no
 *   lifecycle step is planned on it before (./planner.ts).
 *
 * Events: `node.contextualizing` (with how long booting took) and `node.agent-up` (with how
 * long contextualizing and the whole first boot took), for nodes of clouds that boot images
 * (openstack, ec2, cloudsigma) and for any node whose agent did not answer at the first try
 * (the `sim` with `contextualizeMs`); a local or ssh node's agent is started by its create and
 * answers at once, so it goes straight to agent up without the two events.
 *
 * Failure meaning: no answer within `agentTimeoutMs` of the cloud saying the node runs is
 * AGENT_UNREACHABLE, not retryable: the node fails with what to check (the image, the agent
 * log), rather than being re-created with the same image forever.
 */
import type { Driver } from '../drivers/index.js';
import { NubisError, toNubisError } from '../errors/index.js';
import type { EngineContext } from './context.js';
import type { Deployment, InstanceRec, NodeRec } from './state.js';

export type FirstBootStep = 'booting' | 'contextualizing' | 'agent-up';

/** Platforms whose nodes boot an image and start their agent from cloud-init user data. */
const IMAGE_PLATFORMS: ReadonlySet<string> = new Set(['openstack', 'ec2', 'cloudsigma']);
/** The longest pause between two agent polls. */
const MAX_POLL_MS = 2_000;

/** The step a node is in (undefined once it is being deleted or failed before it ran). */
export function firstBootStep(n: NodeRec | undefined): FirstBootStep | undefined {
  if (!n || n.status === 'deleting') return undefined;
  if (n.agentUpAt !== undefined) return 'agent-up';
  if (n.runningAt !== undefined && (n.status === 'running' || n.status === 'unreachable' || n.status === 'failed')) return 'contextualizing';
  return n.status === 'failed' ? undefined : 'booting';
}

/** How long each step took, in ms (a step still under way counts up to `now`). */
export function firstBootTimes(n: NodeRec, now: number): { bootMs?: number; contextualizeMs?: number } {
  const out: { bootMs?: number; contextualizeMs?: number } = {};
  if (n.runningAt !== undefined) out.bootMs = Math.max(0, n.runningAt - n.createdAt);
  if (n.runningAt !== undefined) out.contextualizeMs = Math.max(0, (n.agentUpAt ?? now) - n.runningAt);
  return out;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/**
 * Polls a running node's agent until it answers (see the module comment). Resolves true once
 * it did (the node is ready), false when the instance is no longer wanted; throws
 * AGENT_UNREACHABLE (not retryable) after `agentTimeoutMs`.
 */
export async function awaitAgent(ctx: EngineContext, d: Deployment, inst: InstanceRec, n: NodeRec, driver: Driver, signal: AbortSignal): Promise<boolean> {
  if (n.agentUpAt !== undefined) return true;
  const { clock } = ctx;
  const runningAt = n.runningAt ?? clock.now();
  const deadline = runningAt + ctx.settings.agentTimeoutMs;
  let announced = false;
  const announce = async (): Promise<void> => {
    if (announced) return;
    announced = true;
    const bootMs = Math.max(0, runningAt - n.createdAt);
    await ctx.emit({
      deployment: d.name, kind: 'node.contextualizing', target: n.key, outcome: 'contextualizing',
      reason: `the cloud says node ${n.providerId ?? n.key} runs (booting took ${seconds(bootMs)}); waiting for its agent to answer`,
      data: { id: n.providerId, platform: driver.platform, bootMs },
    });
  };
  if (IMAGE_PLATFORMS.has(driver.platform)) await announce();
  let lastError = '';
  for (let attempt = 0; ; attempt++) {
    if (!inst.desired || ctx.deployments.get(n.deployment)?.status === 'destroying') return false;
    try {
      await driver.agent(n.observed!).status(signal);
      break;
    } catch (e) {
      if (signal.aborted) throw e;
      lastError = toNubisError(e).message;
      await announce();
    }
    if (clock.now() >= deadline) {
      throw new NubisError('AGENT_UNREACHABLE', `the agent of node ${n.providerId ?? n.key} did not answer within ${seconds(ctx.settings.agentTimeoutMs)} of the cloud saying the node runs (last: ${lastError}); check that the image has Node 20+ and the agent at agentPath, that the security group lets the control plane reach the agent port, and /var/log/nubis-agent.log on the node`, { retryable: false });
    }
    await clock.sleep(Math.min(ctx.settings.pollMs * 2 ** Math.min(attempt, 4), MAX_POLL_MS), signal);
    // the address may come after the cloud says running (a floating IP, a DHCP lease)
    const cn = await driver.get(n.providerId!, signal).catch(() => undefined);
    if (cn) n.observed = cn;
  }
  n.agentUpAt = clock.now();
  await ctx.saveNode(n);
  if (announced) {
    const t = firstBootTimes(n, n.agentUpAt);
    await ctx.emit({
      deployment: d.name, kind: 'node.agent-up', target: n.key, outcome: 'agent-up',
      reason: `the agent of node ${n.providerId ?? n.key} answers: booting took ${seconds(t.bootMs ?? 0)}, contextualizing ${seconds(t.contextualizeMs ?? 0)}`,
      data: { id: n.providerId, platform: driver.platform, bootMs: t.bootMs, contextualizeMs: t.contextualizeMs, totalMs: n.agentUpAt - n.createdAt },
    });
  }
  return true;
}

/** A node's first-boot fields as the instance view shows them. */
export function firstBootView(n: NodeRec, now: number): { step?: FirstBootStep; bootMs?: number; contextualizeMs?: number } {
  const step = firstBootStep(n);
  return step === undefined ? {} : { step, ...firstBootTimes(n, now) };
}
