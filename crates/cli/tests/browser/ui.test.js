// The web page (/ui) in a real browser against the real agent: Debian's Chromium driven
// by playwright-core, axe-core on every view. Run: `npm ci && npm test` here, after
// `cargo build -p rollout` (ROLLOUT_BIN or CARGO_TARGET_DIR say where the binary is).
//
// The tests of one agent share its state and run in order (node:test runs a file's
// tests one after another).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { api, axe, browser, cli, confirm, jobBody, screenshot, startAgent, tab } from './harness.js';

/** What the operator waits for on the page; generous, the machine is shared. */
const PAGE_WAIT = 30_000;
/** The acceptance bound for a change made elsewhere to appear on the page. */
const LIVE_BOUND_MS = 1000;

const statusOf = (page) => page.locator('h1 .badge').textContent();
const waitStatus = (page, status, timeout = PAGE_WAIT) => page.locator('h1 .badge', { hasText: new RegExp(`^${status}$`) }).waitFor({ timeout });
const waitDesc = (page, text, timeout = PAGE_WAIT) => page.locator('#status-desc', { hasText: text }).waitFor({ timeout });
const flashText = async (page) => (await page.locator('#flash p').textContent()).trim();

describe('the dev agent, ACLs off', () => {
  let agent;
  let a;
  let b;
  let page;

  before(async () => {
    agent = await startAgent();
    a = api(agent.base);
    b = await browser();
    page = await tab(b);
  });

  after(async () => {
    assert.deepEqual(page ? page.problems : [], [], 'no script errors or CSP refusals on the page');
    if (b) await b.close();
    if (agent) await agent.stop();
  });

  test('/ opens the jobs list; the first load is measured', async () => {
    await a.put('/v1/jobs', jobBody('web', 'app:1'));
    const first = await a.get('/v1/job/web/deployment');
    await a.until(`/v1/deployment/${first.ID}`, (d) => d.Status === 'successful', 'version 0 deployed');

    await page.goto(`${agent.base}/`);
    assert.match(page.url(), /\/ui\/$/);
    await page.locator('main h1', { hasText: 'Jobs' }).waitFor();
    await page.getByRole('link', { name: 'web', exact: true }).waitFor({ timeout: PAGE_WAIT });
    await page.locator('#live[data-state="live"]').waitFor({ timeout: PAGE_WAIT });
    await page.waitForFunction(() => performance.getEntriesByName('rollout:first-view').length > 0);
    const m = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const resources = performance.getEntriesByType('resource');
      const page = resources.filter((r) => new URL(r.name).pathname.startsWith('/ui/'));
      const data = resources.filter((r) => new URL(r.name).pathname.startsWith('/v1/'));
      const sum = (rs, k) => rs.reduce((n, r) => n + r[k], 0);
      return {
        files: 1 + page.length,
        pageTransfer: nav.transferSize + sum(page, 'transferSize'),
        pageBody: nav.encodedBodySize + sum(page, 'encodedBodySize'),
        apiCalls: data.length,
        apiTransfer: sum(data, 'transferSize'),
        firstContentfulPaint: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,
        firstView: performance.getEntriesByName('rollout:first-view')[0].startTime,
      };
    });
    console.log(
      `first load: ${m.files} files, ${m.pageTransfer} bytes transferred (${m.pageBody} bytes of bodies, uncompressed); ` +
        `${m.apiCalls} API reads, ${m.apiTransfer} bytes; first contentful paint ${m.firstContentfulPaint?.toFixed(0)} ms, ` +
        `jobs drawn from the API at ${m.firstView.toFixed(0)} ms`,
    );
    assert.ok(m.pageTransfer > 0 && m.files >= 10, 'every file of the page came from the agent');
    await axe(page, 'jobs list');
  });

  test('a canary rollout is promoted from the page, with the keyboard', async () => {
    await a.put('/v1/jobs', jobBody('web', 'app:2'));
    const dep = await a.get('/v1/job/web/deployment');
    // From the jobs list, which shows the new deployment live, to its page.
    await page.getByRole('link', { name: `Deployment ${dep.ID.slice(0, 8)} of web` }).click({ timeout: PAGE_WAIT });
    await waitDesc(page, 'Deployment is running but requires manual promotion');
    await page.locator('#g-web-healthy[value="1"]').waitFor({ timeout: PAGE_WAIT });
    await page.locator('#g-web-canaries[value="1"]').waitFor();
    assert.match(await page.locator('time[data-countdown]').textContent(), /left$/);
    await axe(page, 'deployment awaiting promotion');
    await screenshot(page, 'deployment.png');
    // The README's picture (docs/ui-deployment.png is this one, quantized).
    await screenshot(page, 'deployment-readme.png', { x: 0, y: 0, width: 1280, height: 1010 });

    // Readable at 360 px: nothing wider than the screen but the tables' own scroll boxes.
    await page.setViewportSize({ width: 360, height: 800 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than 360 px`);
    await axe(page, 'deployment at 360 px');
    await screenshot(page, 'deployment-360.png');
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await axe(page, 'deployment, dark colour scheme');
    await screenshot(page, 'deployment-dark.png');
    await page.emulateMedia({ colorScheme: 'light' });

    // Keyboard only: focus the button, Enter; the dialog opens on Cancel, Tab to the
    // confirmation, Enter.
    await page.locator('#promote-all').focus();
    await page.keyboard.press('Enter');
    await page.locator('dialog#confirm[open]').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.id), 'confirm-cancel');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'confirm-ok');
    await page.keyboard.press('Enter');
    await page.locator('dialog#confirm').waitFor({ state: 'hidden' });
    assert.match(await flashText(page), /^Deployment [0-9a-f]{8} promoted; evaluation [0-9a-f]{8}\.$/);
    await waitStatus(page, 'successful');
    assert.equal((await a.get(`/v1/deployment/${dep.ID}`)).TaskGroups.web.Promoted, true);
    // Said to screen readers as it happened.
    assert.match(await page.locator('#announce').textContent(), /is now successful: Deployment completed successfully/);
    // Its history tells why.
    await page.locator('#history li', { hasText: 'DeploymentPromotion' }).waitFor();

    // The job's page: versions with their diffs and stability.
    await page.locator('nav.crumbs').getByRole('link', { name: 'web' }).click();
    await page.locator('main h1', { hasText: 'Job web' }).waitFor();
    const v1 = page.locator('.version', { hasText: 'Version 1' });
    await v1.locator('.badge', { hasText: /^stable$/ }).waitFor({ timeout: PAGE_WAIT });
    assert.match(await v1.locator('details').textContent(), /image: app:1 → app:2/);
    await axe(page, 'job page');
  });

  test('a failed deployment shows its rollback, and the rollback deploys', async () => {
    await a.put('/v1/jobs', jobBody('web', 'app:3', { progressDeadline: 0, meta: { 'rollout.sim.fail_to_start': 'true' } }));
    const bad = await a.get('/v1/job/web/deployment');
    assert.equal(bad.JobVersion, 2);
    await page.goto(`${agent.base}/ui/#/deployment/${bad.ID}`);
    await waitDesc(page, 'Failed due to unhealthy allocations - rolling back to job version 1');
    await waitStatus(page, 'failed');
    const note = page.getByRole('note', { name: 'Rollback' });
    await note.locator('#successor').waitFor({ timeout: PAGE_WAIT });
    assert.match(await note.textContent(), /stable version 1 was registered again as version 3/);
    await page.locator('#history li', { hasText: 'failed' }).first().waitFor();
    await axe(page, 'failed deployment');
    await screenshot(page, 'deployment-failed.png');
    await note.locator('#successor').click();
    await page.locator('.meta', { hasText: 'version 3' }).waitFor();
    await waitStatus(page, 'successful');
  });

  test('a change made with the CLI appears on the page within a second; pause, resume and health from the page', async () => {
    await a.put('/v1/jobs', jobBody('api', 'api:1', { count: 1, health: 'manual' }));
    const dep = await a.get('/v1/job/api/deployment');
    await page.goto(`${agent.base}/ui/#/deployment/${dep.ID}`);
    await waitStatus(page, 'running');
    const alloc = (await a.until(`/v1/deployment/allocations/${dep.ID}`, (l) => l.length === 1 && l[0].ClientStatus === 'running', 'api placed'))[0];
    await page.locator(`[id="healthy-${alloc.ID}"]`).waitFor({ timeout: PAGE_WAIT });

    // Escape cancels a confirmation: nothing is sent.
    await page.click('#fail');
    await page.locator('dialog#confirm[open]').waitFor();
    await page.keyboard.press('Escape');
    await page.locator('dialog#confirm').waitFor({ state: 'hidden' });
    assert.equal(await page.locator('#flash p').count(), 0);
    assert.equal(await statusOf(page), 'running');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'fail', 'the focus is back on the button');

    // The skip link takes the keyboard to the view, and the route stays.
    const route = await page.evaluate(() => location.hash);
    // On a freshly loaded page the skip link is the first stop.
    await page.reload();
    await waitStatus(page, 'running');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.className), 'skip');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
    assert.equal(await page.evaluate(() => location.hash), route);

    await page.locator('#live[data-state="live"]').waitFor({ timeout: PAGE_WAIT });
    const paused = await cli(agent.base, ['deployment', 'pause', dep.ID.slice(0, 8)]);
    assert.equal(paused.code, 0, paused.stderr);
    const t0 = performance.now();
    await waitStatus(page, 'paused', LIVE_BOUND_MS);
    console.log(`the CLI's pause was on the page ${(performance.now() - t0).toFixed(0)} ms after the command returned`);
    await page.locator('#live[data-state="live"]').waitFor();

    await page.click('#resume');
    await confirm(page);
    await waitStatus(page, 'running');
    assert.equal(await flashText(page), `Deployment ${dep.ID.slice(0, 8)} resumed.`);

    await page.click(`[id="healthy-${alloc.ID}"]`);
    await confirm(page);
    await page.locator('tbody .badge', { hasText: /^healthy$/ }).waitFor({ timeout: PAGE_WAIT });
    await waitStatus(page, 'successful');
  });

  test("an action refused by the state is shown as the API words it (409)", async () => {
    await a.put('/v1/jobs', jobBody('api', 'api:2', { count: 1, health: 'manual' }));
    const dep = await a.get('/v1/job/api/deployment');
    await page.goto(`${agent.base}/ui/#/deployment/${dep.ID}`);
    await waitStatus(page, 'running');
    // The operator opens the confirmation; meanwhile someone fails it from the CLI.
    await page.click('#fail');
    await page.locator('dialog#confirm[open]').waitFor();
    const failed = await cli(agent.base, ['deployment', 'fail', dep.ID.slice(0, 8)]);
    assert.equal(failed.code, 0, failed.stderr);
    await waitStatus(page, 'failed');
    await page.click('#confirm-ok');
    const again = await api(agent.base).request('PUT', `/v1/deployment/fail/${dep.ID}`, { DeploymentID: dep.ID });
    assert.equal(again.status, 409);
    await page.locator('#flash p[role="alert"]').waitFor();
    assert.equal(await flashText(page), `409: ${again.text}`);
    assert.equal(await statusOf(page), 'failed');
  });
});

describe('the page follows an agent that restarts', () => {
  test('after a restart (a new dev store on the same address) the page reconnects and shows new writes', async () => {
    let agent = await startAgent();
    const b = await browser();
    try {
      const page = await tab(b);
      await api(agent.base).put('/v1/jobs', jobBody('before', 'x:1'));
      await page.goto(`${agent.base}/ui/`);
      await page.getByRole('link', { name: 'before', exact: true }).waitFor({ timeout: PAGE_WAIT });
      await page.locator('#live[data-state="live"]').waitFor();
      // Many writes, so that the old history's index is well past the new one's.
      for (let i = 0; i < 5; i++) await api(agent.base).put('/v1/jobs', jobBody('before', `x:${i + 2}`));

      const addr = agent.addr;
      await agent.stop();
      await page.locator('#live[data-state="retrying"]').waitFor({ timeout: PAGE_WAIT });
      agent = await startAgent(['--http-addr', addr]);
      await page.locator('#live[data-state="live"]').waitFor({ timeout: PAGE_WAIT });
      await api(agent.base).put('/v1/jobs', jobBody('after', 'y:1'));
      await page.getByRole('link', { name: 'after', exact: true }).waitFor({ timeout: PAGE_WAIT });
      assert.equal(await page.getByRole('link', { name: 'before', exact: true }).count(), 0);
      assert.deepEqual(page.problems, []);
    } finally {
      await b.close();
      await agent.stop();
    }
  });
});

describe('the dev agent with ACLs on', () => {
  let agent;
  let b;

  before(async () => {
    agent = await startAgent(['--acl-enabled']);
    b = await browser();
  });

  after(async () => {
    if (b) await b.close();
    if (agent) await agent.stop();
  });

  test('nothing is readable without a token; a read-only token reads, and its promotion is refused (403)', async () => {
    const anonymous = api(agent.base);
    const boot = await anonymous.put('/v1/acl/bootstrap');
    const root = api(agent.base, boot.SecretID);
    await root.request('PUT', '/v1/acl/policy/readers', {
      Name: 'readers',
      Description: 'read default',
      Rules: 'namespace "default" {\n  policy = "read"\n}\n',
    });
    const reader = await root.put('/v1/acl/token', { Name: 'reader', Type: 'client', Policies: ['readers'] });
    await root.put('/v1/jobs', jobBody('web', 'app:1'));
    const v0 = await root.get('/v1/job/web/deployment');
    await root.until(`/v1/deployment/${v0.ID}`, (d) => d.Status === 'successful', 'version 0 deployed');
    await root.put('/v1/jobs', jobBody('web', 'app:2'));
    const dep = await root.get('/v1/job/web/deployment');
    await root.until(`/v1/deployment/${dep.ID}`, (d) => d.TaskGroups.web.HealthyAllocs === 1, 'canary healthy');

    const page = await tab(b);
    await page.goto(`${agent.base}/ui/`);
    await page.locator('main [role="alert"]', { hasText: '403: Permission denied — ACLs are on: enter a token above.' }).waitFor({ timeout: PAGE_WAIT });
    await page.locator('#live[data-state="refused"]', { hasText: '403: Permission denied' }).waitFor({ timeout: PAGE_WAIT });
    await axe(page, 'jobs list without a token');

    await page.getByLabel('ACL token').fill(reader.SecretID);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.getByRole('link', { name: 'web', exact: true }).waitFor({ timeout: PAGE_WAIT });
    await page.locator('#live[data-state="live"]').waitFor({ timeout: PAGE_WAIT });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('rollout.token')), reader.SecretID);

    await page.goto(`${agent.base}/ui/#/deployment/${dep.ID}`);
    await waitDesc(page, 'Deployment is running but requires manual promotion');
    await page.click('#promote-all');
    await confirm(page);
    await page.locator('#flash p[role="alert"]').waitFor();
    assert.equal(await flashText(page), '403: Permission denied — the token in use lacks the capability for this.');
    await axe(page, 'deployment with a refused action');
    assert.equal((await root.get(`/v1/deployment/${dep.ID}`)).TaskGroups.web.Promoted, false);
    assert.deepEqual(page.problems, []);
  });
});
