/**
 * EC2's eventual consistency after RunInstances, as the driver sees it.
 *
 * The EC2 API Reference ("Eventual consistency in the Amazon EC2 API") says that right after
 * RunInstances, calls naming the new instance id may fail with InvalidInstanceID.NotFound, and
 * that clients should retry rather than conclude the instance does not exist. This unit keeps
 * the instances this driver launched, with their launch time, for `graceMs`; within that
 * window a NotFound for one of them means "not yet visible", not "gone", and a list that omits
 * one no describe has returned yet gets it added (lists are eventually consistent too).
 *
 * Limit: the memory is per driver instance. After a control-plane restart an instance launched
 * just before it is unknown here, and a NotFound for it reads as gone (the engine's sweep, which
 * finds it by tag later, then adopts or removes it).
 */
import type { CloudNode } from '../driver.js';

export class RecentLaunches {
  private readonly launched = new Map<string, { at: number; node: CloudNode; seen: boolean }>();

  constructor(private readonly graceMs: number) {}

  /** Remembers a node RunInstances just returned, launched at `at` (ms, the driver's clock). */
  remember(node: CloudNode, at: number): void {
    this.launched.set(node.id, { at, node: { ...node, tags: { ...node.tags } }, seen: false });
  }

  /** Notes that a describe returned the instance: from now on a list that omits it is believed. */
  seen(id: string): void {
    const hit = this.launched.get(id);
    if (hit) hit.seen = true;
  }

  /**
   * Instances launched within the window that no describe has returned yet, as launched
   * (`provisioning`): a list taken meanwhile may omit them (the same eventual consistency).
   */
  neverSeen(now: number): CloudNode[] {
    this.prune(now);
    return [...this.launched.values()].filter((v) => !v.seen).map((v) => ({ ...v.node, tags: { ...v.node.tags }, status: 'provisioning' as const }));
  }

  private prune(now: number): void {
    for (const [k, v] of this.launched) if (now - v.at >= this.graceMs) this.launched.delete(k);
  }

  /**
   * The node as it was launched, when `id` was launched by this driver less than `graceMs`
   * before `now`; undefined otherwise (then NotFound means gone). Prunes expired entries.
   */
  notYetVisible(id: string, now: number): CloudNode | undefined {
    this.prune(now);
    const hit = this.launched.get(id);
    return hit ? { ...hit.node, tags: { ...hit.node.tags }, status: 'provisioning' } : undefined;
  }

  /** Forgets an instance this driver terminated: a NotFound for it is then simply gone. */
  forget(id: string): void {
    this.launched.delete(id);
  }
}
