/**
 * The `local` driver: each node is a sandbox directory `<root>/nodes/<id>/` on this machine,
 * a range of loopback ports, and a process group led by the node's agent (spawned detached,
 * so it gets its own session and group; handlers stay in that group). Every process of a
 * node carries `NUBIS_NODE_ID=<id>`, so delete also finds processes that left the group.
 *
 * The driver's inventory, `<root>/inventory.json`, is the cloud's record: a new driver over the
 * same root (a restarted control plane) sees the same nodes. Writes are atomic (tmp + rename)
 * and serialised within one driver instance; two driver instances writing the same root at
 * the same moment are not guarded against.
 *
 * Options (`ctx.options`): `root` (default `<dataDir>/local`), `portBase` (21000),
 * `portsPerNode` (10, at least 2: the agent takes the first, its Graphite listener the last;
 * provided ports are in between), `portMax` (65535),
 * `readyTimeoutMs` (15 000: how long a new agent has to answer), `killGraceMs` (2 000).
 *
 * Processes: the agent puts itself and every handler into the node's cgroup v2 cage when the
 * machine has a writable one (see agent/cgroup.ts; its path is in `<node dir>/cgroup`), so
 * delete kills daemons that left the session and cleared their environment. Without cgroups,
 * delete kills the node's process group and session, every process carrying its id, and the
 * processes its agent recorded (agent/tracker.ts).
 *
 * Create writes the inventory twice: the node as `provisioning` (with the creating process's
 * pid), then, once its agent answers, as `running`. A node left between the two by a control
 * plane that died is reported with status `error` (its creator is gone, nobody will finish
 * it), so the engine deletes it and creates another; a create repeated with its token kills
 * what is left of it and boots it again.
 *
 * Test hook (environment, never set in production): `NUBIS_LOCAL_TEST_HOLD=after-record` or
 * `after-agent` makes every create stop for good right after the first inventory write (before
 * the agent is spawned) or after the agent answers (before the second write), and append the
 * node id to `<root>/test-hold.log` first, so a test can SIGKILL the control plane inside that
 * window deterministically.
 *
 * Errors: an exhausted port pool is CLOUD_QUOTA_EXCEEDED; an agent that does not come up is
 * CLOUD_UNAVAILABLE (retryable; nothing is left behind); reboot of an unknown node is
 * CLOUD_NOT_FOUND; a node whose processes survive SIGKILL makes delete fail with CLOUD_INTERNAL.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  agentAnswers, agentProgramPath, createHttpAgentClient, findProcessesByEnv, findProcessGroup, findSession, isAlive, isNodeCage, killCage,
  listProcesses, readEnviron, recordedProcesses, terminate, type AgentClient,
} from '../../agent/index.js';
import { NubisError } from '../../errors/index.js';
import { createJsonInventory, type InventoryFile } from '../inventory.js';
import { fileImageChecksum } from '../image-files.js';
import type { CloudNode, CreateNodeRequest, Driver, DriverContext, NodeStatus } from '../driver.js';

interface InventoryNode {
  id: string;
  key: string;
  tags: Record<string, string>;
  idempotencyToken: string;
  status: NodeStatus;
  ports: { first: number; count: number };
  agentPort: number;
  /** The agent's Graphite listener: the range's last port (absent on nodes made before there was one). */
  graphitePort?: number;
  agentToken: string;
  /** The agent's pid, which leads the node's process group. */
  pgid?: number;
  /** The pid of the control plane process creating the node, while it is `provisioning`. */
  creatorPid?: number;
  createdAt: number;
}

type Inventory = InventoryFile<InventoryNode>;

interface LocalOptions {
  root: string;
  portBase: number;
  portsPerNode: number;
  portMax: number;
  readyTimeoutMs: number;
  killGraceMs: number;
}

const ID_RE = /^local-[0-9a-f]{16}$/;

function intOption(options: Record<string, unknown>, name: string, def: number, min: number, max: number): number {
  const v = options[name];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new NubisError('SPEC_INVALID', `local driver option ${name} must be an integer from ${min} to ${max}`);
  }
  return v;
}

function readOptions(ctx: DriverContext): LocalOptions {
  const o = ctx.options;
  const root = o['root'] ?? join(ctx.dataDir, 'local');
  if (typeof root !== 'string' || root === '') throw new NubisError('SPEC_INVALID', 'local driver option root must be a path');
  const portBase = intOption(o, 'portBase', 21000, 1024, 65535);
  return Object.freeze({
    root,
    portBase,
    portsPerNode: intOption(o, 'portsPerNode', 10, 2, 1000),
    portMax: intOption(o, 'portMax', 65535, portBase, 65535),
    readyTimeoutMs: intOption(o, 'readyTimeoutMs', 15_000, 100, 600_000),
    killGraceMs: intOption(o, 'killGraceMs', 2000, 0, 60_000),
  });
}

function aborted(_signal?: AbortSignal): NubisError {
  return new NubisError('ABORTED', 'the local driver call was aborted');
}

function checkSignal(signal: AbortSignal): void {
  if (signal.aborted) throw aborted(signal);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Nodes some local driver of this process is creating now (`<root>\0<id>`), across driver instances. */
const CREATING_HERE = new Set<string>();

/** Windows of a create where the test hook (see the top of this file) may hold it. */
type HoldWindow = 'after-record' | 'after-agent';

/** Stops the create for good when the test hook names this window (never returns then). */
async function testHold(window: HoldWindow, root: string, id: string, signal: AbortSignal): Promise<void> {
  if (process.env['NUBIS_LOCAL_TEST_HOLD'] !== window) return;
  appendFileSync(join(root, 'test-hold.log'), `${id} ${window}\n`);
  await new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(aborted(signal)), { once: true }));
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}


/** Creates the local driver. Nodes outlive the driver instance: close() leaves them running. */
export function createLocalDriver(ctx: DriverContext): Driver {
  const opts = readOptions(ctx);
  const inventoryPath = join(opts.root, 'inventory.json');
  const nodeDir = (id: string): string => join(opts.root, 'nodes', id);
  const creating = new Map<string, Promise<CloudNode>>();
  const inventory = createJsonInventory<InventoryNode>(inventoryPath);
  const readInventory = (): Inventory => inventory.read();
  const mutate = <T>(fn: (inv: Inventory) => T | Promise<T>): Promise<T> => inventory.mutate(fn);
  const snapshot = (): Promise<Inventory> => inventory.snapshot();

  const agentAlive = (n: InventoryNode): boolean =>
    n.pgid !== undefined && isAlive(n.pgid) && readEnviron(n.pgid)?.get('NUBIS_NODE_ID') === n.id;

  /** A provisioning node whose creator is gone: no one will ever finish it. */
  const halfMade = (n: InventoryNode): boolean => {
    if (n.status !== 'provisioning') return false;
    if (CREATING_HERE.has(`${opts.root}\0${n.id}`)) return false;
    return n.creatorPid === undefined || n.creatorPid === process.pid || !isAlive(n.creatorPid);
  };

  const statusOf = (n: InventoryNode): NodeStatus => {
    if (n.status === 'running' && !agentAlive(n)) return 'stopped';
    return halfMade(n) ? 'error' : n.status;
  };

  const toCloud = (n: InventoryNode): CloudNode => ({
    id: n.id,
    tags: { ...n.tags },
    status: statusOf(n),
    address: '127.0.0.1',
    // provided ports: the range without the agent's (first) and, when it has one, Graphite's (last)
    ports: { first: n.ports.first + 1, count: n.ports.count - (n.graphitePort === undefined ? 1 : 2) },
    agent: { url: `http://127.0.0.1:${n.agentPort}`, token: n.agentToken },
    ...(n.graphitePort === undefined ? {} : { graphite: { host: '127.0.0.1', port: n.graphitePort } }),
    createdAt: n.createdAt,
  });

  const allocatePorts = async (inv: Inventory): Promise<{ first: number; count: number }> => {
    const count = opts.portsPerNode;
    for (let first = opts.portBase; first + count - 1 <= opts.portMax; first += count) {
      const last = first + count - 1;
      if (inv.nodes.some((n) => n.ports.first <= last && first <= n.ports.first + n.ports.count - 1)) continue;
      let free = true;
      for (let p = first; p <= last && free; p++) free = await portFree(p);
      if (free) return { first, count };
    }
    throw new NubisError('CLOUD_QUOTA_EXCEEDED', `no free range of ${count} ports between ${opts.portBase} and ${opts.portMax}`, {
      details: { portBase: opts.portBase, portMax: opts.portMax, portsPerNode: count },
    });
  };

  /** The node's cgroup cage as its agent recorded it, when it is a real one of this node. */
  const cageOf = (id: string): string | undefined => {
    try {
      const dir = readFileSync(join(nodeDir(id), 'cgroup'), 'utf8').trim();
      return dir && isNodeCage(dir, id) ? dir : undefined;
    } catch {
      return undefined;
    }
  };

  /**
   * Kills every process of the node: its group and session (if they are still this node's),
   * any process carrying its id, and everything in its cgroup cage (daemons that left the
   * session and cleared their environment).
   */
  const killNode = async (id: string, pgid: number | undefined): Promise<boolean> => {
    const procs = listProcesses();
    const groupIsOurs = pgid !== undefined && findProcessGroup(pgid, procs).some((pid) => readEnviron(pid)?.get('NUBIS_NODE_ID') === id);
    const gentle = await terminate(() => {
      const now = listProcesses();
      const pids = new Set([...findProcessesByEnv('NUBIS_NODE_ID', id, now), ...recordedProcesses(nodeDir(id))]);
      if (groupIsOurs) for (const pid of [...findProcessGroup(pgid, now), ...findSession(pgid, now)]) pids.add(pid);
      return pids;
    }, opts.killGraceMs);
    const cage = cageOf(id);
    return (cage ? await killCage(cage, opts.killGraceMs + 5000) : true) && gentle;
  };

  /** Spawns the node's agent as a new process group and waits until it answers. Returns its pid (= pgid). */
  const bootAgent = async (n: InventoryNode, signal: AbortSignal): Promise<number> => {
    const dir = nodeDir(n.id);
    mkdirSync(dir, { recursive: true });
    const logFd = openSync(join(dir, 'agent.log'), 'a');
    let exited = false;
    let child;
    try {
      const graphite = n.graphitePort === undefined ? [] : ['--graphite-port', String(n.graphitePort)];
      child = spawn(process.execPath, [agentProgramPath(), '--sandbox', dir, '--port', String(n.agentPort), '--node', n.id, ...graphite], {
        detached: true,
        stdio: ['ignore', logFd, logFd],
        cwd: dir,
        env: {
          PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
          HOME: process.env['HOME'] ?? dir,
          NUBIS_NODE_ID: n.id,
          NUBIS_AGENT_TOKEN: n.agentToken,
          ...(process.env['NUBIS_AGENT_CGROUP'] ? { NUBIS_AGENT_CGROUP: process.env['NUBIS_AGENT_CGROUP'] } : {}),
        },
      });
    } finally {
      closeSync(logFd);
    }
    child.once('exit', () => (exited = true));
    child.once('error', () => (exited = true));
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new NubisError('CLOUD_UNAVAILABLE', `cannot spawn the agent for node ${n.id}`);
    const deadline = Date.now() + opts.readyTimeoutMs;
    for (;;) {
      if (signal.aborted) throw aborted(signal);
      if (await agentAnswers(`http://127.0.0.1:${n.agentPort}`, n.id)) return pid;
      if (exited) {
        throw new NubisError('CLOUD_UNAVAILABLE', `the agent of node ${n.id} exited at start; see ${join(dir, 'agent.log')}`);
      }
      if (Date.now() > deadline) throw new NubisError('CLOUD_UNAVAILABLE', `the agent of node ${n.id} did not answer within ${opts.readyTimeoutMs} ms`);
      await sleep(25);
    }
  };

  const removeNode = async (id: string, pgid: number | undefined): Promise<void> => {
    if (!(await killNode(id, pgid))) {
      throw new NubisError('CLOUD_INTERNAL', `processes of node ${id} survived SIGKILL`, { details: { node: id } });
    }
    rmSync(nodeDir(id), { recursive: true, force: true });
    await mutate((inv) => {
      inv.nodes = inv.nodes.filter((x) => x.id !== id);
    });
  };

  const doCreate = async (req: CreateNodeRequest, signal: AbortSignal): Promise<CloudNode> => {
    const reserved = await mutate(async (inv) => {
      const existing = inv.nodes.find((n) => n.idempotencyToken === req.idempotencyToken);
      if (existing) {
        // a half-made one is finished by this process from here on
        const takeOver = halfMade(existing);
        if (takeOver) {
          existing.creatorPid = process.pid;
          CREATING_HERE.add(`${opts.root}\0${existing.id}`);
        }
        return { node: existing, fresh: false, takeOver };
      }
      const ports = await allocatePorts(inv);
      const node: InventoryNode = {
        id: `local-${randomBytes(8).toString('hex')}`,
        key: req.key,
        tags: { ...req.tags },
        idempotencyToken: req.idempotencyToken,
        status: 'provisioning',
        ports,
        agentPort: ports.first,
        graphitePort: ports.first + ports.count - 1,
        agentToken: randomBytes(24).toString('hex'),
        creatorPid: process.pid,
        createdAt: ctx.clock.now(),
      };
      CREATING_HERE.add(`${opts.root}\0${node.id}`);
      inv.nodes.push(node);
      return { node, fresh: true, takeOver: false };
    });
    const n = reserved.node;
    const mark = `${opts.root}\0${n.id}`;
    // A repeat returns the first node; one left half-made by a crashed control plane is finished.
    if (!reserved.fresh && !reserved.takeOver) return toCloud(n);
    try {
      checkSignal(signal);
      await testHold('after-record', opts.root, n.id, signal);
      // what an interrupted earlier attempt left (an agent holding the ports) goes first
      if (!reserved.fresh) await killNode(n.id, undefined);
      const pgid = await bootAgent(n, signal);
      await testHold('after-agent', opts.root, n.id, signal);
      const done = await mutate((inv) => {
        const x = inv.nodes.find((y) => y.id === n.id);
        if (!x) throw new NubisError('CLOUD_NOT_FOUND', `node ${n.id} was deleted while being created`);
        Object.assign(x, { status: 'running', pgid });
        delete x.creatorPid;
        return { ...x };
      });
      return toCloud(done);
    } catch (e) {
      await removeNode(n.id, undefined).catch(() => {});
      if (e instanceof NubisError) throw e;
      throw new NubisError('CLOUD_UNAVAILABLE', `cannot start node ${n.id}: ${(e as Error).message}`, { cause: e });
    } finally {
      if (reserved.fresh || reserved.takeOver) CREATING_HERE.delete(mark);
    }
  };

  const imagesDir = typeof ctx.options['images'] === 'string' ? ctx.options['images'] : undefined;
  return {
    platform: 'local',
    ...(imagesDir !== undefined ? { imageChecksum: (image: string, signal: AbortSignal) => fileImageChecksum(imagesDir, image, signal) } : {}),

    create(req, signal) {
      try {
        checkSignal(signal);
      } catch (e) {
        return Promise.reject(e);
      }
      const pending = creating.get(req.idempotencyToken);
      if (pending) return pending;
      const p = doCreate(req, signal).finally(() => creating.delete(req.idempotencyToken));
      creating.set(req.idempotencyToken, p);
      return p;
    },

    async get(id, signal) {
      checkSignal(signal);
      const n = (await snapshot()).nodes.find((x) => x.id === id);
      return n ? toCloud(n) : undefined;
    },

    async list(tags, signal) {
      checkSignal(signal);
      const want = Object.entries(tags);
      return (await snapshot()).nodes.filter((n) => want.every(([k, v]) => n.tags[k] === v)).map(toCloud);
    },

    async delete(id, signal) {
      checkSignal(signal);
      if (!ID_RE.test(id)) return;
      const n = (await snapshot()).nodes.find((x) => x.id === id);
      await removeNode(id, n?.pgid);
    },

    async reboot(id, signal) {
      checkSignal(signal);
      const n = (await snapshot()).nodes.find((x) => x.id === id);
      if (!n) throw new NubisError('CLOUD_NOT_FOUND', `no local node ${id}`);
      if (!(await killNode(id, n.pgid))) throw new NubisError('CLOUD_INTERNAL', `processes of node ${id} survived SIGKILL`);
      await mutate((inv) => {
        const x = inv.nodes.find((y) => y.id === id);
        if (x) x.status = 'provisioning';
      });
      let pgid: number;
      try {
        pgid = await bootAgent(n, signal);
      } catch (e) {
        await killNode(id, undefined);
        await mutate((inv) => {
          const x = inv.nodes.find((y) => y.id === id);
          if (x) x.status = 'error';
        });
        throw e;
      }
      await mutate((inv) => {
        const x = inv.nodes.find((y) => y.id === id);
        if (x) Object.assign(x, { status: 'running', pgid });
      });
    },

    agent(node): AgentClient {
      if (!node.agent) throw new NubisError('CLOUD_BAD_REQUEST', `node ${node.id} has no agent address`);
      return createHttpAgentClient(node.agent.url, node.agent.token);
    },

    async close() {
      await inventory.snapshot();
    },
  };
}
