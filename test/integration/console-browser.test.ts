/**
 * The web console in real Chromium (the Debian package, driven by playwright-core) against a
 * real `nubis serve` on the local cloud: sign in as an operator (a bad token, a bad password and a bad spec get the server's
 * own message next to their field, apply the webapp example with its artefacts (the plan shown
 * before confirming), watch it become ready in the topology view, scale app 3 → 5 (out of
 * bounds first: the server's message next to the count) and see the new instances and lb-1's
 * update (instance.wiring) arrive live on the stream, read lb-1's update log, filter events,
 * graph a metric and see a rule's condition values, steer a workflow's tree, order from the
 * catalog's generated form (a bad value's message next to its field), see a viewer offered no
 * action and refused one by the server, check phone width and the keyboard, and destroy
 * through the confirmation dialog. Every request the page makes goes
 * to the server itself (no CDN), and no script error or CSP violation happens.
 * Screenshots of each page land in test-results/screenshots/.
 *
 * Waiting is on the page's own state (selectors and DOM conditions, no timeout of their own):
 * only the test's timeout bounds it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { tempDir } from '../helpers/control-plane.js';
import { ROOT, freePort, runCli, startServe, stopProcess } from '../helpers/processes.js';
import { callApi } from '../helpers/http-api.js';
import { chromiumMissing, consoleBuilt, launchChromium, screenshot } from '../helpers/browser.js';

const missing = chromiumMissing();
const WAIT = { timeout: 0 } as const;
const EXAMPLE = path.join(ROOT, 'examples/webapp');

/** The page's document as the functions below see it (they run in the browser; this project's Node types have no DOM). */
type PageDoc = { querySelectorAll(s: string): ArrayLike<{ dataset: Record<string, string | undefined> }> };

/** Waits until `fn(arg)` (run in the page: a function, since the CSP refuses evaluated strings) is true. */
async function until(page: Page, fn: (arg: number) => boolean, arg: number): Promise<void> {
  await page.waitForFunction(fn, arg, { timeout: 0, polling: 100 });
}

/** Waits until the topology shows `n` instances running and healthy. */
const healthy = (page: Page, n: number): Promise<void> =>
  until(page, (k) => (globalThis as unknown as { document: PageDoc }).document
    .querySelectorAll('svg.topology [data-instance][data-health="healthy"][data-phase="running"]').length === k, n);

test('console in Chromium: sign in, apply webapp, watch it ready, scale with live lb update, logs, events, metrics, workflows, catalog order, viewer, phone, keyboard, destroy', {
  skip: missing ?? false, timeout: 300_000,
}, async (t) => {
  assert.ok(consoleBuilt(), 'the console is built (npm run build writes dist/web)');
  const data = tempDir('nubis-console-');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const serve = await startServe(data, port);
  const token = fs.readFileSync(path.join(data, 'token'), 'utf8').trim();
  const api = (method: string, p: string, body?: unknown) => callApi(base, token, method, p, body);
  const browser = await launchChromium();
  // a timed-out test closes the browser, so every wait below rejects and the cleanup runs
  t.signal.addEventListener('abort', () => void browser.close().catch(() => undefined), { once: true });
  const problems: string[] = [];
  const foreign: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) problems.push(`console: ${m.text()}`); });
    page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreign.push(r.url()); });

    // users: an operator who does the work, a viewer who may only look (made with the bootstrap token)
    for (const [user, role] of [['olga', 'operator'], ['vera', 'viewer']] as const) {
      const r = await api('PUT', `/v1/users/${user}`, { password: `${user}-password-1`, roles: { default: role } });
      assert.ok(r.status === 201 || r.status === 200, r.text);
    }

    // --- sign in: a wrong token and a wrong password are refused with the server's message
    await page.goto(`${base}/`);
    await screenshot(page, '01-login');
    await page.getByRole('tab', { name: 'API token' }).click();
    await page.fill('input[name=token]', 'not-a-token');
    await page.click('button[type=submit]');
    const refused = await callApi(base, 'not-a-token', 'GET', '/v1/me');
    await page.waitForSelector('#err-token', WAIT);
    assert.equal(await page.textContent('#err-token'), refused.json.error.message);
    await page.getByRole('tab', { name: 'User and password' }).click();
    await page.fill('input[name=user]', 'olga');
    await page.fill('input[name=password]', 'not-her-password');
    await page.click('button[type=submit]');
    await page.waitForSelector('form[aria-label="sign in"] [role=alert]', WAIT);
    const wrong = await callApi(base, undefined, 'POST', '/v1/login', { user: 'olga', password: 'not-her-password' });
    assert.equal(wrong.status, 401, wrong.text);
    assert.ok(((await page.textContent('form[aria-label="sign in"] [role=alert]')) ?? '').includes(wrong.json.error.message));
    await page.fill('input[name=password]', 'olga-password-1');
    await page.click('button[type=submit]');
    await page.waitForSelector('header.top nav', WAIT);
    await page.waitForSelector('.who[data-role=operator][data-via=session]', WAIT);
    await page.waitForSelector('.live.on', WAIT);

    // --- apply: a bad spec gets the server's file:line:col message next to the spec
    await page.goto(`${base}/#/apply`);
    const badSpec = 'name: webapp\nclouds: { local: { platform: local } }\nnodeTemplates: { s: { cloud: local } }\ncomponents:\n  app: { nodeTemplate: nowhere, lifecycle: { start: run } }\n';
    await page.fill('textarea[name=spec]', badSpec);
    await page.fill('input[name=file]', 'bad.yaml');
    await page.click('form[aria-label=spec] button[type=submit]');
    const badPlan = await api('POST', '/v1/plan', { spec: badSpec, file: 'bad.yaml' });
    assert.equal(badPlan.status, 400, badPlan.text);
    await page.waitForSelector('#err-spec', WAIT);
    assert.equal(await page.textContent('#err-spec'), badPlan.json.error.message);
    assert.match(badPlan.json.error.message, /bad\.yaml:\d+:\d+/);
    await screenshot(page, '02-apply-bad-spec');

    await page.fill('textarea[name=spec]', fs.readFileSync(path.join(EXAMPLE, 'app.yaml'), 'utf8'));
    await page.fill('input[name=file]', 'app.yaml');
    await page.setInputFiles('input[name=artefacts]', ['kv.mjs', 'app.mjs', 'lb.mjs'].map((f) => path.join(EXAMPLE, f)));
    await page.click('form[aria-label=spec] button[type=submit]');
    await page.waitForSelector('section[aria-label=plan]', WAIT);
    assert.match((await page.textContent('[data-summary]')) ?? '', /\+\d+ to add/);
    assert.ok((await page.$$('table[aria-label=actions] tbody tr')).length >= 5, 'the plan lists its actions');
    assert.equal((await api('GET', '/v1/deployments/webapp')).status, 404, 'nothing is applied before confirming');
    await screenshot(page, '03-apply-plan');
    await page.click('text=Apply this plan');
    await page.waitForURL(/#\/deployments\/webapp$/, WAIT);

    // --- the topology view becomes ready live (the page refetches as the stream brings events)
    await healthy(page, 5);
    assert.equal(await page.getAttribute('g.channel[data-channel="lb.backends->app.http"]', 'class'), 'channel optional');
    assert.ok(await page.$('g.channel[data-channel="app.kv->kv.kv"]'));
    await page.waitForSelector('h1 .pill.s-ready', WAIT);
    await screenshot(page, '04-topology-ready');

    // --- scale: out of bounds is the server's message next to the count; then 3 → 5 live
    const bound = await api('POST', '/v1/deployments/webapp/scale', { component: 'app', count: 11 });
    assert.equal(bound.status, 422);
    await page.fill('#scale-app', '11');
    await page.click('form[aria-label="scale app"] button[type=submit]');
    await page.waitForSelector('#scale-app-err', WAIT);
    assert.equal(await page.textContent('#scale-app-err'), `${bound.json.error.message} (SCALE_OUT_OF_BOUNDS)`);
    const before = (await api('GET', '/v1/events?limit=1')).json.events.at(-1)?.id ?? 0;
    await page.fill('#scale-app', '5');
    await page.click('form[aria-label="scale app"] button[type=submit]');
    await healthy(page, 7);
    for (const i of ['app-4', 'app-5']) assert.ok(await page.$(`svg.topology [data-instance="${i}"]`), `${i} in the topology`);
    // lb-1 learned of its new backends through its update handler: the event arrives on the stream
    await until(page, (after) => Array.from((globalThis as unknown as { document: PageDoc }).document.querySelectorAll('tr[data-kind="instance.wiring"]'))
      .some((r) => (r.dataset['target'] ?? '').endsWith('lb-1') && Number(r.dataset['id']) > after), Number(before));
    await screenshot(page, '05-scaled');

    // --- instance detail: lb-1's update step log
    await page.click('svg.topology a[data-instance="lb-1"]');
    await page.waitForURL(/instances\/lb-1$/, WAIT);
    await page.getByRole('tab', { name: 'update' }).click();
    await page.waitForSelector('article.log[data-step=update]', WAIT);
    await screenshot(page, '06-instance-lb-1');

    // --- events, filtered
    await page.goto(`${base}/#/events`);
    await page.fill('input[name=kind]', 'instance.wiring');
    await page.waitForSelector('table[aria-label=events] tr[data-kind="instance.wiring"]', WAIT);
    assert.equal(await page.$$eval('table[aria-label=events] tbody tr', (rows) => rows.every((r) => (r as unknown as { dataset: Record<string, string> }).dataset['kind'] === 'instance.wiring')), true);
    await screenshot(page, '07-events');

    // --- metrics: a graph of a metric an agent's sensor reports, over a picked range
    assert.equal((await api('PUT', '/v1/deployments/webapp/instances/app-1/monitors/cpu', { kind: 'cpu', intervalMs: 500 })).status, 201);
    const series = await waitForSeries(api);
    // a rule: the page shows its state and each condition's current value
    const rule = { deployment: 'webapp', component: 'app', when: { all: { expr: 'avg_over_time({__name__="instance.cpu.percent"}[1m])', above: 95 } }, action: { scale: 'out', by: 1 } };
    assert.equal((await api('PUT', '/v1/rules/app-hot', rule)).status, 201);
    await page.goto(`${base}/#/metrics`);
    await page.waitForSelector('tr[data-rule=app-hot] ul.conds .mono + .mono', WAIT);
    await page.fill('input[name=query]', `{__name__="${series}"}`);
    await page.getByRole('button', { name: '5m', exact: true }).click();
    await page.getByRole('button', { name: 'Graph' }).click();
    await page.waitForSelector('.chart canvas', WAIT);
    assert.ok(Number(await page.getAttribute('.chart', 'data-series')) >= 1);
    // a query that does not parse: the server's message next to the query field
    const badQuery = await api('GET', `/v1/metrics/query?query=${encodeURIComponent('sum(')}`);
    await page.fill('input[name=query]', 'sum(');
    await page.getByRole('button', { name: 'Graph' }).click();
    assert.equal(badQuery.status, 400, badQuery.text);
    await page.waitForSelector('#err-query', WAIT);
    assert.equal(await page.textContent('#err-query'), badQuery.json.error.message);
    await page.fill('input[name=query]', `{__name__="${series}"}`);
    await page.getByRole('button', { name: 'Graph' }).click();
    await page.waitForSelector('.chart canvas', WAIT);
    await screenshot(page, '08-metrics');

    // --- workflows: the tree in ecFlow's colours; suspend and resume a family
    assert.equal((await api('POST', '/v1/workflows', { text: 'suite nightly\n  family f\n    task t1\n    task t2\n      trigger t1 == complete\n  endfamily\nendsuite\n', file: 'nightly.def' })).status, 201);
    await page.goto(`${base}/#/workflows/nightly`);
    await page.click('button.wf[data-path="/nightly/f"]');
    await page.click('button[data-verb=suspend]');
    await page.waitForSelector('button.wf[data-path="/nightly/f"][data-state=suspended]', WAIT);
    await screenshot(page, '09-workflow');
    await page.click('button[data-verb=resume]');
    await page.waitForSelector('button.wf[data-path="/nightly/f"]:not([data-state=suspended])', WAIT);
    await page.click('button.wf[data-path="/nightly/f/t2"]');
    await page.waitForSelector('ul.why li', WAIT);

    // --- the other pages render
    assert.equal((await api('PUT', '/v1/clouds/lab', { platform: 'sim', options: { path: ':memory:' } })).status, 201);
    for (const [hash, name, sel] of [['alerts', '10-alerts', 'table[aria-label="alert rules"]'], ['clouds', '11-clouds', 'tr[data-cloud=lab]'], ['recovery', '12-recovery', 'h1'], ['backups?deployment=webapp', '12b-backups', 'main h1'], ['deployments', '13-deployments', 'tr[data-deployment=webapp]']] as const) {
      await page.goto(`${base}/#/${hash}`);
      await page.waitForSelector(sel, WAIT);
      await screenshot(page, name);
    }

    // --- phone width: nothing wider than the screen but the topology's own scroll box
    await page.setViewportSize({ width: 375, height: 800 });
    for (const [hash, name] of [['deployments/webapp', '14-phone-deployment'], ['events', '15-phone-events'], ['metrics', '16-phone-metrics']] as const) {
      await page.goto(`${base}/#/${hash}`);
      await page.waitForSelector('main h1', WAIT);
      if (hash === 'deployments/webapp') await healthy(page, 7);
      await screenshot(page, name);
      const wide = await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);
      assert.ok(wide <= 375, `${hash} is ${wide}px wide at 375`);
    }
    await page.setViewportSize({ width: 1280, height: 800 });

    // --- the catalog: an order form from the template's parameter schema; a bad value's message next to its field
    const template = {
      description: 'a key-value store on the sim cloud',
      spec: 'name: kv\nclouds: { sim: { platform: sim, options: { path: ":memory:" } } }\nnodeTemplates: { t: { cloud: sim } }\ncomponents:\n  kv:\n    nodeTemplate: t\n    instances:\n      count: ${params.replicas}\n      max: 5\n    lifecycle: { start: run }\n',
      parameters: { type: 'object', required: ['replicas'], properties: { replicas: { type: 'integer', minimum: 1, maximum: 5, default: 1, description: 'how many kv instances' } } },
    };
    const published = await api('PUT', '/v1/catalog/kv', template);
    assert.ok(published.status === 201 || published.status === 200, published.text);
    await page.goto(`${base}/#/catalog/kv`);
    await page.fill('#order-deployment', 'shop-kv');
    await page.fill('#param-replicas', '9');
    await page.click('form[aria-label="order kv"] button[type=submit]');
    await page.waitForSelector('#param-replicas-err', WAIT);
    const badOrder = await api('POST', '/v1/catalog/kv/orders', { deployment: 'shop-kv', params: { replicas: 9 } });
    assert.equal(badOrder.status, 422, badOrder.text);
    assert.equal(await page.textContent('#param-replicas-err'), badOrder.json.error.details.problems[0]);
    assert.equal((await api('GET', '/v1/deployments/shop-kv')).status, 404, 'a refused order creates nothing');
    await screenshot(page, '17-catalog-order');
    await page.fill('#param-replicas', '2');
    await page.click('form[aria-label="order kv"] button[type=submit]');
    await page.waitForURL(/#\/deployments\/shop-kv$/, WAIT);
    await until(page, (k) => (globalThis as unknown as { document: PageDoc }).document.querySelectorAll('svg.topology [data-instance][data-phase="running"]').length === k, 2);

    // --- a viewer is offered no action, and the server refuses her one all the same
    const viewerPage = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    viewerPage.on('pageerror', (e) => problems.push(`viewer page error: ${e.message}`));
    await viewerPage.goto(`${base}/`);
    await viewerPage.fill('input[name=user]', 'vera');
    await viewerPage.fill('input[name=password]', 'vera-password-1');
    await viewerPage.click('button[type=submit]');
    await viewerPage.waitForSelector('.who[data-role=viewer]', WAIT);
    await viewerPage.goto(`${base}/#/deployments/webapp`);
    await viewerPage.waitForSelector('table[aria-label=components] tr[data-component=app]', WAIT);
    assert.equal(await viewerPage.$('form[aria-label="scale app"]'), null, 'no scale form for a viewer');
    assert.equal(await viewerPage.$('text=Destroy…'), null, 'no destroy for a viewer');
    assert.equal(await viewerPage.$('text=Apply a new version'), null, 'no apply for a viewer');
    await screenshot(viewerPage, '18-viewer');
    const forced = await viewerPage.evaluate(async () => {
      const me = await (await fetch('/v1/me')).json() as { csrfToken: string };
      const r = await fetch('/v1/deployments/webapp/scale', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken }, body: JSON.stringify({ component: 'app', count: 6 }) });
      return { status: r.status, code: ((await r.json()) as { error: { code: string } }).error.code };
    });
    assert.equal(forced.status, 403, `a viewer's scale is refused: ${JSON.stringify(forced)}`);
    assert.equal((await api('GET', '/v1/deployments/webapp')).json.components.find((c: { name: string }) => c.name === 'app').desired, 5);
    await viewerPage.close();

    // --- keyboard: the skip link, then destroy through the dialog without the mouse
    await page.goto(`${base}/#/deployments/webapp`);
    await page.reload();
    await page.waitForSelector('.who[data-role=operator]', WAIT);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent), 'Skip to content');
    await page.waitForSelector('text=Destroy…', WAIT);
    await page.focus('text=Destroy…');
    await page.keyboard.press('Enter');
    await page.waitForSelector('dialog[open]', WAIT);
    await page.keyboard.type('webapp');
    await screenshot(page, '18-destroy-confirm');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-gone=true]', WAIT);
    assert.equal((await api('GET', '/v1/deployments/webapp')).status, 404);
    await screenshot(page, '19-destroyed');

    assert.deepEqual(foreign, [], 'the console fetched nothing from elsewhere');
    assert.deepEqual(problems, [], 'no script error or CSP violation');
    t.diagnostic(`screenshots in ${path.relative(ROOT, path.join(ROOT, 'test-results/screenshots'))}`);
  } finally {
    await browser.close().catch(() => undefined);
    await runCli(['destroy', 'webapp', '--wait'], { NUBIS_SERVER: base, NUBIS_DATA: data });
    await stopProcess(serve);
    fs.rmSync(data, { recursive: true, force: true });
  }
});

/** instance.cpu.percent, once app-1's cpu monitor has reported a sample of it. */
async function waitForSeries(api: (m: string, p: string) => Promise<{ json: any }>): Promise<string> {
  for (;;) {
    const r = await api('GET', `/v1/metrics/series?match=${encodeURIComponent('{__name__="instance.cpu.percent"}')}`);
    if (((r.json?.data ?? []) as unknown[]).length > 0) return 'instance.cpu.percent';
    await new Promise((res) => setTimeout(res, 250));
  }
}
