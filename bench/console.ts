/**
 * The console's first render of the deployment list with 500 deployments, in real Chromium
 * (the Debian package): a server (server-root, sim cloud) holds 500 deployments; the page is
 * loaded cold (no cache) and warm, signed in by token, and the time from navigation start to
 * the first page of rows in the DOM is read in the page (performance.now()). One command, a table:
 *
 *   npm run build && node dist/bench/console.js [--deployments 500] [--runs 7]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from '../src/cli/server-root.js';

const arg = (name: string, d: number): number => Number(process.argv[process.argv.indexOf(name) + 1] ?? d) || d;
const count = arg('--deployments', 500);
const runs = arg('--runs', 7);
const CHROMIUM = process.env.NUBIS_CHROMIUM ?? '/usr/bin/chromium';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  if (!fs.existsSync(CHROMIUM)) {
    console.log(`console bench skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
    return;
  }
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-bench-console-'));
  const server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1' });
  const token = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  try {
    const t0 = Date.now();
    for (let i = 0; i < count; i++) {
      const spec = `name: d${String(i).padStart(4, '0')}\nclouds: { sim: { platform: sim, options: { path: ":memory:" } } }\nnodeTemplates: { t: { cloud: sim } }\ncomponents:\n  app: { nodeTemplate: t, instances: { count: 0, min: 0, max: 3 }, lifecycle: { start: run } }\n`;
      const r = await fetch(`${server.url}/v1/deployments`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ spec }) });
      if (r.status !== 201) throw new Error(`apply d${i}: ${r.status} ${await r.text()}`);
    }
    const setupS = (Date.now() - t0) / 1000;
    const listBytes = (await (await fetch(`${server.url}/v1/deployments`, { headers: { authorization: `Bearer ${token}` } })).text()).length;
    const measure = async (cold: boolean): Promise<number> => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      await context.addInitScript((t) => sessionStorage.setItem('nubis.token', t), token);
      const page = await context.newPage();
      await page.goto(`${server.url}/#/deployments`);
      if (!cold) {
        await page.waitForSelector('tr[data-deployment]', { timeout: 60_000 });
        await page.reload();
      }
      await page.waitForSelector('tr[data-deployment]', { timeout: 60_000 });
      const ms = await page.evaluate(() => performance.now());
      await context.close();
      return ms;
    };
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < runs; i++) {
      cold.push(await measure(true));
      warm.push(await measure(false));
    }
    const load = os.loadavg()[0]!.toFixed(1);
    console.log(`\nConsole: first render of the deployment list (${count} deployments, ${runs} runs, load ${load}; setup ${setupS.toFixed(1)} s, list ${(listBytes / 1024).toFixed(0)} KiB)\n`);
    console.log('| benchmark | median | min–max | target |');
    console.log('|---|---|---|---|');
    console.log(`| first page of rows, cold (new browser context, no cache) | ${median(cold).toFixed(0)} ms | ${Math.min(...cold).toFixed(0)}–${Math.max(...cold).toFixed(0)} ms | < 1000 ms |`);
    console.log(`| first page of rows, warm (assets cached) | ${median(warm).toFixed(0)} ms | ${Math.min(...warm).toFixed(0)}–${Math.max(...warm).toFixed(0)} ms | < 1000 ms |`);
  } finally {
    await browser.close();
    await server.close();
    fs.rmSync(data, { recursive: true, force: true });
  }
}

await main();
