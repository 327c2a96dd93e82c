/**
 * What a rule's action asks for, and the bounds it must stay within.
 *
 * Bounds, stated: the allowed range is [max(component min, rule min), min(component max,
 * rule max)]. An `out` action never lowers the count and an `in` action never raises it, even
 * when the current count lies outside the rule's own bounds; `to` moves towards its count
 * within the range. So no rule ever takes a component outside its range, nor further from it.
 */
import type { RuleActionSpec } from '../../model/index.js';

export interface Bounds {
  min: number;
  max: number;
}

/** The raw target before bounds: out/in by n or by a percentage (rounded up, at least minStep), or exactly count. */
export function rawTarget(a: RuleActionSpec, current: number): number {
  if (a.kind === 'to') return a.count;
  const step = a.by !== undefined ? a.by : Math.max(a.minStep, Math.ceil((current * (a.percent ?? 0)) / 100));
  return a.kind === 'out' ? current + step : current - step;
}

/** The range the rule may move the component within. */
export function ruleBounds(a: RuleActionSpec, component: Bounds): Bounds {
  return { min: Math.max(component.min, a.min ?? 0), max: Math.min(component.max, a.max ?? Number.MAX_SAFE_INTEGER) };
}

/**
 * The bounded target. Returns `current` when the bounds leave nothing to do (the caller
 * reports a suppression by bounds).
 */
export function boundedTarget(a: RuleActionSpec, current: number, component: Bounds): number {
  const b = ruleBounds(a, component);
  const raw = rawTarget(a, current);
  if (b.min > b.max) return current; // contradictory bounds: do nothing
  const clamped = Math.min(b.max, Math.max(b.min, raw));
  if (a.kind === 'out') return Math.max(current, clamped);
  if (a.kind === 'in') return Math.min(current, clamped);
  return clamped; // to: a count inside the range
}

/** A rule's ask beyond its range: what it wanted (never below 0), the bound it hit and where that bound comes from. */
export interface Cap {
  wanted: number;
  bound: 'max' | 'min';
  limit: number;
  /** `instances.max` / `instances.min` (the component's) or `rule max` / `rule min` (the rule's own, when tighter). */
  limitOf: string;
}

/** Whether the raw target lies beyond the range in the action's direction; undefined when the range holds it (or is contradictory). */
export function capOf(a: RuleActionSpec, current: number, component: Bounds): Cap | undefined {
  const b = ruleBounds(a, component);
  if (b.min > b.max) return undefined;
  const raw = rawTarget(a, current);
  if (raw > b.max && a.kind !== 'in') return { wanted: raw, bound: 'max', limit: b.max, limitOf: a.max !== undefined && a.max < component.max ? 'rule max' : 'instances.max' };
  if (raw < b.min && a.kind !== 'out') return { wanted: Math.max(0, raw), bound: 'min', limit: b.min, limitOf: a.min !== undefined && a.min > component.min ? 'rule min' : 'instances.min' };
  return undefined;
}
