/**
 * A driver whose module is loaded on first use. For platforms with heavy dependencies (the
 * AWS SDK): every process that imports the drivers would otherwise load them at start-up.
 * Behaviour is the wrapped driver's; only `platform` is known before loading. The snapshot
 * calls are always present (the module is not loaded to find out) and fail with
 * CLOUD_UNSUPPORTED when the loaded driver has none.
 */
import type { AgentClient } from '../agent/protocol.js';
import type { Platform } from '../model/types.js';
import { snapshotCall as need, type CloudNode, type Driver, type DriverContext, type DriverFactory } from './driver.js';

export function lazyDriverFactory(platform: Platform, load: () => Promise<DriverFactory>): DriverFactory {
  return (ctx: DriverContext): Driver => {
    let real: Promise<Driver> | undefined;
    const get = (): Promise<Driver> => (real ??= load().then((factory) => factory(ctx)));
    const agentOf = async (node: CloudNode): Promise<AgentClient> => (await get()).agent(node);
    return {
      platform,
      create: async (req, signal) => (await get()).create(req, signal),
      get: async (id, signal) => (await get()).get(id, signal),
      list: async (tags, signal) => (await get()).list(tags, signal),
      delete: async (id, signal) => (await get()).delete(id, signal),
      reboot: async (id, signal) => (await get()).reboot(id, signal),
      async discover(signal) {
        const d = await get();
        if (!d.discover) return { locations: [], offers: [], images: [] };
        return d.discover(signal);
      },
      snapshot: async (id, req, signal) => need(await get(), 'snapshot')(id, req, signal),
      snapshotStatus: async (ref, signal) => need(await get(), 'snapshotStatus')(ref, signal),
      readSnapshot: async (ref, signal) => need(await get(), 'readSnapshot')(ref, signal),
      deleteSnapshot: async (ref, signal) => need(await get(), 'deleteSnapshot')(ref, signal),
      agent: (node) => ({
        runStep: async (req, signal) => (await agentOf(node)).runStep(req, signal),
        stopInstance: async (instance, signal) => (await agentOf(node)).stopInstance(instance, signal),
        status: async (signal) => (await agentOf(node)).status(signal),
        logs: async (instance, step, signal) => (await agentOf(node)).logs(instance, step, signal),
      }),
      async close() {
        if (real) await (await real).close();
      },
    };
  };
}
