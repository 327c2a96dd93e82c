/**
 * The embedded store after a crash: a writer process appends and flushes in a loop, printing
 * `ack <k>` once batch k's flush resolved; it is SIGKILLed at a random moment (mid append, mid
 * flush, mid seal). Reopened through the public API, the store must hold every acknowledged
 * point, with its value, exactly once. Small heads and WAL limits make seals, chunk files and
 * WAL deletions happen during the run, so the kill can land in any of them.
 *
 * Writer mode (internal): `node <this file> writer <dir>`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEmbeddedMetricStore } from '../../src/metrics/store/embedded.js';
import type { Sample } from '../../src/metrics/types.js';
import { killGroup, spawnTracked } from '../helpers/processes.js';

const T0 = Date.UTC(2030, 0, 1);
const SERIES = 20;
const PER_BATCH = 10;
const STEP = 1000;
const OPTS = { flushIntervalMs: 0, headBudgetBytes: 64 * 1024, maxWalFiles: 4 } as const;

/** Batch k: every series gets points k·PER_BATCH … k·PER_BATCH + PER_BATCH − 1. */
function batch(k: number): Sample[] {
  const out: Sample[] = [];
  for (let s = 0; s < SERIES; s++) {
    for (let j = 0; j < PER_BATCH; j++) {
      const i = k * PER_BATCH + j;
      out.push({ name: 'crash', labels: { s: String(s) }, t: T0 + i * STEP, v: value(s, i) });
    }
  }
  return out;
}

function value(s: number, i: number): number {
  return s % 2 === 0 ? s * 1e6 + i : Math.round(Math.sin(s + i) * 1e4) / 100;
}

async function writer(dir: string): Promise<void> {
  const store = await createEmbeddedMetricStore({ dir, ...OPTS });
  for (let k = 0; ; k++) {
    store.append(batch(k));
    await store.flush();
    process.stdout.write(`ack ${k}\n`);
  }
}

/** Runs a writer on `dir` and SIGKILLs it once it acknowledged `killAfter` batches; returns the last ack read. */
async function crashWriter(dir: string, killAfter: number): Promise<number> {
  const self = fileURLToPath(import.meta.url);
  const child = spawnTracked(process.execPath, [self, 'writer', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let last = -1;
  let buf = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^ack (\d+)$/.exec(line);
        if (m && last < killAfter) {
          last = Number(m[1]);
          if (last >= killAfter) {
            killGroup(child, 'SIGKILL');
            resolve();
          }
        }
      }
    });
    child.once('exit', (code, signal) => {
      if (last < killAfter) reject(new Error(`writer exited early (${code ?? signal})`));
    });
  });
  await exited;
  return last;
}

async function checkAcked(dir: string, lastAck: number): Promise<void> {
  const store = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0 });
  try {
    const got = await store.select([{ name: '__name__', op: '=', value: 'crash' }], 0, Infinity);
    assert.equal(got.length, SERIES, 'every series is there');
    const acked = (lastAck + 1) * PER_BATCH;
    for (const sd of got) {
      const s = Number(sd.labels.s);
      const ts = sd.points.map((p) => p.t);
      assert.equal(new Set(ts).size, ts.length, `series ${s}: no point twice`);
      assert.ok(sd.points.length >= acked, `series ${s}: ${sd.points.length} points, ${acked} acknowledged`);
      // acknowledged points, and any unacknowledged ones that made it, are the right ones
      sd.points.forEach((p, i) => {
        assert.equal(p.t, T0 + i * STEP, `series ${s} point ${i}`);
        assert.equal(p.v, value(s, i), `series ${s} point ${i}`);
      });
    }
  } finally {
    await store.close();
  }
}

if (process.argv[2] === 'writer') {
  await writer(process.argv[3]!);
} else {
  test('SIGKILL mid-ingest: a reopened store has every acknowledged point, once (3 kills at different moments)', { timeout: 120_000 }, async () => {
    for (const killAfter of [7, 23, 41]) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-mstore-crash-'));
      try {
        const last = await crashWriter(dir, killAfter);
        assert.ok(fs.readdirSync(dir).some((f) => f.startsWith('chunks-')), 'seals wrote chunk files before the kill');
        await checkAcked(dir, last);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  test('a crash after a crash: the store reopened from the first kill keeps ingesting, is killed again, and loses nothing acknowledged', { timeout: 120_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-mstore-crash-'));
    try {
      const first = await crashWriter(dir, 15);
      await checkAcked(dir, first);
      // the writer starts again at batch 0: its points overwrite the same timestamps with the same values
      const second = await crashWriter(dir, 30);
      await checkAcked(dir, Math.max(first, second));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
