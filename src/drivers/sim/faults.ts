/**
 * Failure injection for the sim's node agents (tests and benchmarks of recovery): what goes
 * wrong on a node, as its agent would then report it.
 *
 * - `killProcess`: the instance's start process dies (status `exited` with the code).
 * - `failProbes`: the instance's health probe fails from now on (`unhealthy`, and the probe
 *   failure counter grows by one each time the agent is asked) until called with false.
 * - `partition`: the node's agent stops answering (AGENT_UNREACHABLE) while the cloud still
 *   reports the node running — a network fault, not a node fault — until called with false.
 *
 * A reboot (the driver's `reboot`) ends a node's partition and its probe faults, as a real
 * reboot would clear a wedged network stack or process. `simFaults(driver)` finds the faults
 * of an in-process sim driver.
 */
import type { InstanceStatus } from '../../agent/index.js';
import type { Driver } from '../driver.js';

export interface SimFaults {
  killProcess(nodeId: string, instance: string, exitCode?: number): void;
  failProbes(nodeId: string, instance: string, failing: boolean): void;
  partition(nodeId: string, cut: boolean): void;
}

/** What the faults need of the sim agents: an instance's status record to change in place. */
export interface FaultTarget {
  instance(nodeId: string, instance: string): InstanceStatus | undefined;
  /** The node's answered status is stale now. */
  changed(nodeId: string): void;
}

export class SimFaultState implements SimFaults {
  private readonly cut = new Set<string>();
  private readonly failing = new Set<string>();
  constructor(private readonly target: FaultTarget) {}

  killProcess(nodeId: string, instance: string, exitCode = 137): void {
    const i = this.target.instance(nodeId, instance);
    if (!i) return;
    i.process = 'exited';
    i.exitCode = exitCode;
    i.health = 'unhealthy';
    i.healthDetail = `sim: process killed (exit ${exitCode}, injected)`;
    this.target.changed(nodeId);
  }

  failProbes(nodeId: string, instance: string, failing: boolean): void {
    const k = `${nodeId}\0${instance}`;
    if (failing) this.failing.add(k);
    else this.failing.delete(k);
    const i = this.target.instance(nodeId, instance);
    if (i && !failing && i.process === 'running') {
      i.health = 'healthy';
      delete i.healthDetail;
    }
    this.target.changed(nodeId);
  }

  partition(nodeId: string, cut: boolean): void {
    if (cut) this.cut.add(nodeId);
    else this.cut.delete(nodeId);
  }

  /** Whether the node's agent is cut off. */
  partitioned(nodeId: string): boolean {
    return this.cut.has(nodeId);
  }

  /** Applies probe faults before a status is answered: each ask of a failing instance is one more failed probe. */
  beforeStatus(nodeId: string, instances: Iterable<InstanceStatus>): boolean {
    let changed = false;
    for (const i of instances) {
      if (!this.failing.has(`${nodeId}\0${i.instance}`) || i.process !== 'running') continue;
      const p = i.probes ?? { passed: 0, failed: 0 };
      i.probes = { passed: p.passed, failed: p.failed + 1 };
      i.health = 'unhealthy';
      i.healthDetail = 'sim: health probe failed (injected)';
      changed = true;
    }
    return changed;
  }

  /** The node rebooted: its partition and probe faults end. */
  rebooted(nodeId: string): void {
    this.cut.delete(nodeId);
    for (const k of [...this.failing]) if (k.startsWith(`${nodeId}\0`)) this.failing.delete(k);
  }
}

const byDriver = new WeakMap<Driver, SimFaults>();

/** Registers the faults of a sim driver (its factory does). */
export function registerSimFaults(driver: Driver, faults: SimFaults): void {
  byDriver.set(driver, faults);
}

/** The failure injection of an in-process sim driver; undefined for any other driver. */
export function simFaults(driver: Driver): SimFaults | undefined {
  return byDriver.get(driver);
}
