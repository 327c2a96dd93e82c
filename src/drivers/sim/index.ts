/**
 * The sim platform: a simulated IaaS (latency, concurrency slow-down, errors, quota, outages)
 * with its own persistent inventory, usable in-process or as its own HTTP server process.
 */
export { createSimCloud, type SimCloud, type SimCloudOptions, type SimCounters, type SimCreateRequest, type SimServer, type SimServerStatus } from './cloud.js';
export { createSimDriver, createSimHttpDriver } from './driver.js';
export { startSimServer, type SimServerHandle, type SimServerOptions } from './http.js';
export { parseSimModel, provisioningMs, SIM_ERROR_STATUSES, SIM_OPS, type SimErrorRule, type SimErrorStatus, type SimModel, type SimOp } from './model.js';
export { createPrng, type Prng } from './prng.js';
export { simFaults, type SimFaults } from './faults.js';
export type { SimSnapshot, SimSnapshotFault, SimSnapshotModel, SimSnapshots, SimSnapshotState } from './snapshots.js';
export { simFirewalls, readSimHosts, SIM_HOST_TAG, type SimHostSpec } from './hosts.js';
