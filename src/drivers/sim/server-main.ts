/**
 * Runs a sim cloud as its own process:
 *
 *   node dist/src/drivers/sim/server-main.js --port 0 --db <file> --time-scale 100
 *        [--host 127.0.0.1] [--name sim] [--latency <ms> | --latency <min>-<max>]
 *        [--slowdown cloudsigma] [--api-latency <ms>] [--quota <servers>] [--seed <n>]
 *        [--model '<json SimModel, e.g. {"errors":{"create":[{"rate":0.1,"status":503}]}}>']
 *
 * The faults of real clouds go in --model too: `listLatencyMs`, `listPageSize`, `listLagMs`,
 * `staleReadMs`, `notFoundAfterCreateMs` (see ./model.ts). GET /admin/totals counts what every
 * process over the inventory file received.
 *
 * Prints `{"url": "..."}` as its first stdout line once it listens; stops on SIGTERM/SIGINT.
 * Exits 2 with a message on stderr for bad arguments.
 */
import { parseSimModel } from './model.js';
import { startSimServer } from './http.js';

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${a} needs a value`);
    out[a.slice(2)] = v;
    i++;
  }
  return out;
}

function number(args: Record<string, string>, name: string): number | undefined {
  const v = args[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, found ${v}`);
  return n;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const known = ['port', 'host', 'db', 'time-scale', 'name', 'latency', 'slowdown', 'api-latency', 'quota', 'seed', 'model'];
  for (const k of Object.keys(args)) if (!known.includes(k)) throw new Error(`unknown option --${k}`);
  const raw: Record<string, unknown> = args['model'] ? (JSON.parse(args['model']) as Record<string, unknown>) : {};
  const latency = args['latency'];
  if (latency !== undefined) {
    const m = /^(\d+)-(\d+)$/.exec(latency);
    if (m) raw['latency'] = { minMs: Number(m[1]), maxMs: Number(m[2]) };
    else raw['latencyMs'] = number(args, 'latency');
  }
  if (args['slowdown'] !== undefined) raw['slowdown'] = args['slowdown'];
  if (args['api-latency'] !== undefined) raw['apiLatencyMs'] = number(args, 'api-latency');
  if (args['quota'] !== undefined) raw['quota'] = { servers: number(args, 'quota') };
  if (args['seed'] !== undefined) raw['seed'] = number(args, 'seed');
  const model = parseSimModel(raw);
  const db = args['db'];
  if (!db) throw new Error('--db <file> is required (or --db :memory:)');
  const handle = await startSimServer({
    ...model,
    port: number(args, 'port') ?? 0,
    ...(args['host'] ? { host: args['host'] } : {}),
    ...(args['name'] ? { name: args['name'] } : {}),
    path: db,
    timeScale: number(args, 'time-scale') ?? 1,
  });
  process.stdout.write(`${JSON.stringify({ url: handle.url })}\n`);
  const stop = (): void => {
    handle.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`sim server: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
});
