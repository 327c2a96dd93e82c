/**
 * Following long work: readable event lines, and waiting for a deployment to reach a state
 * by polling it (the event stream only adds progress lines, so a lost stream loses nothing).
 */
import type { NubisEvent } from '../events/index.js';
import type { DeploymentView } from '../engine/views.js';
import type { ApiClient } from './client.js';
import { CliError, EXIT } from './errors.js';
import { stateColour, type Style } from './format.js';

/** One line per event: time, target, what happened. */
export function formatEvent(style: Style, e: NubisEvent): string {
  const time = style.dim(e.ts.slice(11, 19));
  const what = e.target ?? e.deployment ?? '-';
  const data = e.data ?? {};
  if ((e.kind === 'node.state' || e.kind === 'instance.phase') && typeof data['to'] === 'string') {
    const noun = e.kind === 'node.state' ? 'node' : 'instance';
    const from = typeof data['from'] === 'string' ? `${data['from']} → ` : '';
    return `${time}  ${what}  ${noun} ${from}${stateColour(style, data['to'])}${e.reason && e.reason !== data['to'] ? style.dim(` (${e.reason})`) : ''}`;
  }
  const parts = [time, what, e.kind];
  if (e.outcome) parts.push(e.outcome === 'error' || e.outcome === 'failed' ? style.red(e.outcome) : e.outcome);
  if (e.reason) parts.push(style.dim(e.reason));
  return parts.join('  ');
}

/** Progress events worth showing while waiting (driver calls are in `nubis events`). */
export function isProgress(e: NubisEvent): boolean {
  return e.kind !== 'driver.call';
}

export interface Follower {
  /** Show events of this deployment from now on (earlier ones of it are flushed). */
  focus(deployment: string): void;
  stop(): Promise<void>;
}

/**
 * Starts following live events before the request that causes them, so none are missed;
 * events are buffered until `focus` names the deployment. A stream failure is reported once
 * and otherwise ignored: waiting does not depend on it.
 */
export function followEvents(client: ApiClient, print: (e: NubisEvent) => void, warn: (m: string) => void): Follower {
  const ac = new AbortController();
  let focus: string | undefined;
  const early: NubisEvent[] = [];
  const done = client
    .stream({}, (e) => {
      if (!isProgress(e)) return;
      if (focus === undefined) early.push(e);
      else if (e.deployment === focus) print(e);
    }, ac.signal)
    .catch((e: unknown) => warn(`event stream unavailable (${e instanceof Error ? e.message : String(e)}); still waiting`));
  return {
    focus(d) {
      focus = d;
      for (const e of early.splice(0)) if (e.deployment === d) print(e);
    },
    async stop() {
      ac.abort();
      await done;
    },
  };
}

export function parseTimeout(s: string | undefined, fallbackMs: number): number {
  if (s === undefined) return fallbackMs;
  const m = /^(\d+)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new CliError(EXIT.INVALID, 'USAGE', `--timeout: expected a duration such as 90s, 10m or 1h, found ${JSON.stringify(s)}`);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * mult;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls the deployment until it is `ready` (resolves with it) or the deadline passes
 * (CliError exit 1, naming what is not ready yet).
 */
export async function waitReady(client: ApiClient, name: string, timeoutMs: number, pollMs = 500): Promise<DeploymentView> {
  const deadline = Date.now() + timeoutMs;
  let last: DeploymentView | undefined;
  for (;;) {
    last = await client.get<DeploymentView>(`/v1/deployments/${encodeURIComponent(name)}`);
    if (last.state === 'ready') return last;
    if (Date.now() >= deadline) break;
    await sleep(pollMs);
  }
  const pending = last.instances
    .filter((i) => i.desired && i.phase !== 'running')
    .map((i) => `${i.name} is ${i.phase} (node ${i.node.state})${i.lastError ? `: ${i.lastError}` : ''}`);
  throw new CliError(EXIT.FAILURE, 'TIMEOUT', `deployment ${name} is ${last.state}, not ready, after ${Math.round(timeoutMs / 1000)}s`, pending);
}

/** The lines that say why a deployment's clouds do not take calls (empty when they all do). */
export function cloudProblemLines(d: DeploymentView): string[] {
  return (d.clouds ?? []).map((c) =>
    `cloud ${c.cloud}: ${c.reason} — ${c.health === 'unusable' ? 'calls stopped until its credential or entry changes' : `backing off; next attempt ${c.retryAt ?? 'soon'}`}`);
}

/**
 * Polls until the deployment is gone (404) and resolves `gone`. When a cloud it needs is
 * unusable, destroy cannot finish by itself: with `untilBlocked` it resolves `blocked`, else it
 * fails (exit 1) naming the cloud and the reason. Past the deadline: `timeout` with
 * `untilBlocked`, else exit 1.
 */
export async function waitGone(client: ApiClient, name: string, timeoutMs: number, pollMs = 500, untilBlocked = false): Promise<'gone' | 'blocked' | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let d: DeploymentView;
    try {
      d = await client.get<DeploymentView>(`/v1/deployments/${encodeURIComponent(name)}`);
    } catch (e) {
      if (e instanceof CliError && e.code === 'NOT_FOUND') return 'gone';
      throw e;
    }
    const stopped = (d.clouds ?? []).filter((c) => c.health === 'unusable');
    if (d.state === 'destroying' && stopped.length > 0) {
      if (untilBlocked) return 'blocked';
      throw new CliError(EXIT.FAILURE, stopped[0]!.code ?? 'CLOUD_UNUSABLE',
        `deployment ${name} cannot be destroyed while cloud ${stopped.map((c) => c.cloud).join(', ')} is unusable`,
        [...cloudProblemLines(d), `fix the credential (\`nubis credentials set …\`) or the cloud entry (\`nubis clouds add …\`), or drop the deployment with \`nubis destroy ${name} --forget\``]);
    }
    if (Date.now() >= deadline) {
      if (untilBlocked) return 'timeout';
      throw new CliError(EXIT.FAILURE, 'TIMEOUT', `deployment ${name} still exists after ${Math.round(timeoutMs / 1000)}s`, cloudProblemLines(d));
    }
    await sleep(pollMs);
  }
}
