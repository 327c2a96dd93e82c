/**
 * Scale requests a component's bounds refused or cut short, kept for `status`. A person who runs
 * `nubis scale` beyond `instances.max` gets the refusal as the answer (422 SCALE_OUT_OF_BOUNDS
 * with the limit); a rule or a schedule has nobody to answer, so its refusal stays on the
 * deployment's status until a scale of that component goes through (or the spec is applied
 * again: the bounds may have changed). Every refusal, whoever asked, is a `scale.refused` event.
 * Kept in memory: after a restart the events still tell, the status line comes with the next one.
 */
import { NubisError } from '../errors/index.js';
import type { ComponentSpec } from '../model/index.js';
import type { ScaleRefusal } from './views.js';

/** A refused or capped request, before it is stamped with its time. */
export type RefusalInput = Omit<ScaleRefusal, 'at' | 'code' | 'reason' | 'component'> & { reason?: string };

/** Whether the actor is a policy (`rule:<name>`, `schedule:<name>`) rather than a person or a token. */
export const isPolicy = (actor: string): boolean => actor.startsWith('rule:') || actor.startsWith('schedule:');

/** The SCALE_OUT_OF_BOUNDS error for `count` and what status and the event say of it. */
export function outOfBounds(c: ComponentSpec, count: number, by: string): { error: NubisError; refusal: RefusalInput } {
  const bound = count > c.max ? 'max' : 'min';
  const limit = bound === 'max' ? c.max : c.min;
  const error = new NubisError('SCALE_OUT_OF_BOUNDS', `${c.name} must have between ${c.min} and ${c.max} instances; ${count} is outside`, {
    details: { component: c.name, count, min: c.min, max: c.max, bound, limit },
  });
  return { error, refusal: { by, wanted: count, bound, limit, limitOf: `instances.${bound}` } };
}

/** In words: `rule busy wanted 14, capped at 10 (instances.max)`, `schedule night wanted 0, refused: below 1 (instances.min)`. */
export function describeRefusal(component: string, r: RefusalInput): string {
  const outcome = r.applied !== undefined ? `capped at ${r.limit}` : `refused: ${r.bound === 'max' ? 'above' : 'below'} ${r.limit}`;
  return `${r.by.replace(':', ' ')} wanted ${component} at ${r.wanted}, ${outcome} (${r.limitOf})`;
}

export class ScaleRefusals {
  /** deployment id → component → the latest refusal. */
  private readonly byDeployment = new Map<string, Map<string, ScaleRefusal>>();

  record(deployment: string, component: string, r: RefusalInput, at: string): ScaleRefusal {
    const full: ScaleRefusal = { component, ...r, code: 'SCALE_OUT_OF_BOUNDS', reason: r.reason ?? describeRefusal(component, r), at };
    let m = this.byDeployment.get(deployment);
    if (!m) this.byDeployment.set(deployment, (m = new Map()));
    m.set(component, full);
    return full;
  }

  /** A scale of the component went through. */
  clear(deployment: string, component: string): void {
    this.byDeployment.get(deployment)?.delete(component);
  }

  /** Applied again, destroyed or forgotten. */
  forget(deployment: string): void {
    this.byDeployment.delete(deployment);
  }

  list(deployment: string): ScaleRefusal[] {
    const m = this.byDeployment.get(deployment);
    return m ? [...m.values()].sort((a, b) => a.component.localeCompare(b.component)) : [];
  }
}
