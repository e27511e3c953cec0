// What the browser tests stand on: the real `rollout` binary (agents and CLI commands),
// the API over a real socket, Debian's Chromium through playwright-core, and axe-core.

import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '../../../..');
const TARGET = process.env.CARGO_TARGET_DIR || path.join(REPO, 'target');
export const BIN = process.env.ROLLOUT_BIN || path.join(TARGET, 'debug', 'rollout');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
/** Screenshots go to the test output, never into the repository. */
export const SHOTS = process.env.UI_SCREENSHOTS || path.join(REPO, 'target', 'ui-screenshots');

const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** `rollout agent --dev ARGS` on a free port (or the one in ARGS); resolves once its log
 * says where it listens. */
export async function startAgent(args = []) {
  const addrGiven = args.includes('--http-addr');
  const child = spawn(BIN, ['agent', '--dev', ...(addrGiven ? [] : ['--http-addr', '127.0.0.1:0']), '--log-level', 'info', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log = [];
  const lines = readline.createInterface({ input: child.stderr });
  const addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the agent did not listen within 30 s:\n${log.join('\n')}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`the agent exited (${code}) before listening:\n${log.join('\n')}`)));
    lines.on('line', (line) => {
      log.push(line);
      const m = /\blistening\b.*\baddr=(\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    base: `http://${addr}`,
    addr,
    log,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The API with an optional token: `{status, text, json}`. */
export function api(base, token) {
  async function request(method, p, body) {
    const headers = token ? { 'X-Nomad-Token': token } : {};
    const res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, text, headers: res.headers, json: () => JSON.parse(text) };
  }
  const ok = async (method, p, body) => {
    const r = await request(method, p, body);
    if (r.status !== 200) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
    return r.json();
  };
  return {
    request,
    get: (p) => ok('GET', p),
    put: (p, body) => ok('PUT', p, body),
    /** Reads `p` with blocking queries until `pred(json)` holds (bounded). */
    async until(p, pred, what, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let index = 1;
      let last;
      while (Date.now() < deadline) {
        const sep = p.includes('?') ? '&' : '?';
        const r = await request('GET', `${p}${sep}index=${index}&wait=5s`);
        if (r.status === 200) {
          last = r.json();
          if (pred(last)) return last;
          index = Number(r.headers.get('x-nomad-index')) || index;
        }
      }
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    },
  };
}

/** `rollout ARGS` against the agent at `base`: `{code, stdout, stderr}`. */
export function cli(base, args, token) {
  const env = { ...process.env, NOMAD_ADDR: base, NO_COLOR: '1' };
  for (const k of ['ROLLOUT_ADDR', 'ROLLOUT_TOKEN', 'NOMAD_TOKEN']) delete env[k];
  if (token) env.NOMAD_TOKEN = token;
  return new Promise((resolve) => {
    execFile(BIN, args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A job body: group `web` with `count` allocations, one canary per update, health from
 * the simulated checks after half a second (or `health: 'manual'`). */
export function jobBody(id, image, { count = 2, canary = 1, health = 'checks', progressDeadline = 600e9, autoRevert = true, meta } = {}) {
  return {
    Job: {
      ID: id,
      Meta: meta,
      TaskGroups: [
        {
          Name: 'web',
          Count: count,
          Update: {
            Canary: canary,
            MaxParallel: 1,
            HealthCheck: health,
            MinHealthyTime: 500e6,
            HealthyDeadline: 60e9,
            ProgressDeadline: progressDeadline,
            AutoRevert: autoRevert,
          },
          Tasks: [{ Name: 'app', Driver: 'docker', Config: { image } }],
        },
      ],
    },
  };
}

/** Chromium with a fresh profile, as the brief of the CI machine has it. */
export async function browser() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rollout-ui-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A new tab that records what goes wrong in it: uncaught errors, console errors (CSP
 * refusals among them) and requests that failed other than the event stream's. */
export async function tab(b) {
  const page = await b.context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // Chromium logs the answers the flows provoke on purpose (403, 409) and the
  // connections an agent's restart breaks; anything else is a problem.
  const expected = /status of (403|409)\b|net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE|INCOMPLETE_CHUNKED_ENCODING)/;
  page.on('console', (m) => {
    if (m.type() === 'error' && !expected.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (new URL(r.url()).pathname.startsWith('/ui/') && r.status() >= 400) problems.push(`${r.status()} for ${r.url()}`);
  });
  page.problems = problems;
  return page;
}

/** axe-core on the page as it is: no serious or critical violation. */
export async function axe(page, label) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const minor = result.violations.filter((v) => !bad.includes(v)).map((v) => `${v.id} (${v.impact})`);
  console.log(`axe ${label}: ${bad.length} serious or critical, others: ${minor.join(', ') || 'none'}`);
  if (bad.length) {
    const detail = bad.map((v) => `${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.map((n) => n.target.join(' ')).join('\n  ')}`);
    throw new Error(`axe on ${label}:\n${detail.join('\n')}`);
  }
}

/** The whole page, or the part `clip` says, as a PNG under SHOTS. */
export async function screenshot(page, name, clip) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, name);
  await page.screenshot(clip ? { path: file, clip } : { path: file, fullPage: true });
  console.log(`screenshot: ${path.relative(REPO, file)}`);
  return file;
}

/** Confirms the dialog an action opened. */
export async function confirm(page) {
  const dialog = page.locator('dialog#confirm');
  await dialog.waitFor({ state: 'visible' });
  await page.click('#confirm-ok');
  await dialog.waitFor({ state: 'hidden' });
}
