// Browser-test harness: starts a real `switchboard serve` against a fresh PostgreSQL database
// seeded with the demo data, launches the system Chromium through playwright-core, and signs
// demo users in. Every browser test under tests/browser/ builds on these helpers.
//
// Environment:
//   SWITCHBOARD_BIN    the binary (default $CARGO_TARGET_DIR/debug/switchboard, else <repo>/target/debug/switchboard)
//   PG_URL_BASE        PostgreSQL server URL without a database (default postgres://postgres@127.0.0.1:5432)
//   CHROMIUM_PATH      browser executable (default /usr/bin/chromium)
//   SB_KEEP_DB=1       keep the test database after stop() for inspection
//   SB_SERVER_LOG=1    echo the server's output while tests run
//   SB_PUBLIC_HOST     host name in PUBLIC_URL and baseUrl (default localhost; the server listens on 127.0.0.1)

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { after, before } from 'node:test';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '../..');

export const DEMO_PASSWORD = 'switchboard-demo';
export const DEMO_USERS = {
  owner: 'owner@demo.test',
  admin: 'admin@demo.test',
  manager: 'manager@demo.test',
  agent: 'agent@demo.test',
  viewer: 'viewer@demo.test',
  super: 'super@demo.test',
};

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function binaryPath() {
  if (process.env.SWITCHBOARD_BIN) return path.resolve(process.env.SWITCHBOARD_BIN);
  if (process.env.CARGO_TARGET_DIR) return path.resolve(process.env.CARGO_TARGET_DIR, 'debug', 'switchboard');
  return path.join(REPO_ROOT, 'target', 'debug', 'switchboard');
}

function pgBase() {
  return (process.env.PG_URL_BASE ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
}

/** A TCP port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function runToEnd(bin, args, env, label) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (e) => reject(new Error(`${label}: cannot start ${bin}: ${e.message}`)));
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${label} exited with ${code ?? signal}:\n${out}`));
    });
  });
}

function dropDatabase(db) {
  const r = spawnSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) process.stderr.write(`warning: could not drop database ${db}: ${r.stderr || r.error}\n`);
}

const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Start a seeded server on a free port with its own database.
 * Options: env (extra variables), seed (default true), simulator (default false: when true, also
 * `seed --demo --simulator` and a `switchboard sim` the demo workspace sends to), publicHost (default 'localhost', or
 * $SB_PUBLIC_HOST). The server binds 127.0.0.1 either way; PUBLIC_URL and baseUrl use a host
 * name because browsers refuse an IP address as the WebAuthn relying-party id (and the server
 * derives its RP id from PUBLIC_URL).
 * Returns { baseUrl, port, databaseUrl, dbName, simulatorUrl, logs(), stop() }.
 * `logs()` returns everything the server printed so far (the demo mailer prints recovery links there).
 */
export async function startServer({ env: extraEnv = {}, seed = true, simulator = false, publicHost = process.env.SB_PUBLIC_HOST ?? 'localhost' } = {}) {
  const bin = binaryPath();
  const port = await freePort();
  const dbName = `sb_browser_${randomBytes(6).toString('hex')}`;
  const databaseUrl = `${pgBase()}/${dbName}`;
  const baseUrl = `http://${publicHost}:${port}`;
  const probeUrl = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    RUST_LOG: process.env.RUST_LOG ?? 'info',
    DATABASE_URL: databaseUrl,
    BIND: `127.0.0.1:${port}`,
    PUBLIC_URL: baseUrl,
    SWITCHBOARD_WEB_DIR: path.join(REPO_ROOT, 'web', 'dist'),
    SECRET_KEY: randomBytes(32).toString('hex'),
    ...extraEnv,
  };

  let seedLog = '';
  let sim = null;
  if (simulator) {
    // The Twilio-compatible simulator's demo account and its ten numbers (+1201555010x) join
    // the demo workspace; the simulator posts status callbacks and replies back to this server.
    const simPort = await freePort();
    const simulatorUrl = `http://127.0.0.1:${simPort}`;
    seedLog = await runToEnd(bin, ['seed', '--demo', '--simulator', simulatorUrl], env, 'switchboard seed --demo --simulator');
    const inbound = /^SIM_INBOUND_URL=(.+)$/m.exec(seedLog)?.[1]?.trim();
    if (!inbound) throw new Error(`seed --simulator printed no SIM_INBOUND_URL:\n${seedLog}`);
    sim = await startSimulator(bin, simPort, inbound, env);
    sim.url = simulatorUrl;
  } else if (seed) {
    seedLog = await runToEnd(bin, ['seed', '--demo'], env, 'switchboard seed --demo');
  }

  const child = spawn(bin, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const echo = process.env.SB_SERVER_LOG === '1';
  const collect = (d) => {
    output += d;
    if (echo) process.stderr.write(d);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      running.delete(child);
      resolve();
    });
    child.on('error', (e) => {
      exited = { code: null, signal: null, error: e };
      running.delete(child);
      resolve();
    });
  });

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    await sim?.stop();
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitPromise;
      clearTimeout(timer);
    }
    if (process.env.SB_KEEP_DB !== '1') dropDatabase(dbName);
  }

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      await stop();
      const why = exited.error ? exited.error.message : `exit ${exited.code ?? exited.signal}`;
      throw new Error(`switchboard serve died before it was ready (${why}). Its output:\n${output}`);
    }
    try {
      const res = await fetch(`${probeUrl}/readyz`);
      if (res.status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`switchboard serve was not ready within 60 s. Its output:\n${output}`);
    }
    await sleep(250);
  }

  return { baseUrl, port, databaseUrl, dbName, simulatorUrl: sim?.url ?? null, logs: () => seedLog + output + (sim?.logs() ?? ''), stop };
}

/** `switchboard sim` on `port`, ready when it accepts connections; replies go to `inboundUrl`. */
async function startSimulator(bin, port, inboundUrl, env) {
  const child = spawn(bin, ['sim', '--bind', `127.0.0.1:${port}`, '--inbound-url', inboundUrl], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  let exited = false;
  const exitPromise = new Promise((resolve) => child.on('exit', () => ((exited = true), running.delete(child), resolve())));
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exitPromise;
      clearTimeout(timer);
    }
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`switchboard sim exited before it was ready:\n${output}`);
    const up = await new Promise((resolve) => {
      const sock = net.connect(port, '127.0.0.1', () => (sock.end(), resolve(true)));
      sock.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`switchboard sim was not ready within 30 s:\n${output}`);
    }
    await sleep(100);
  }
  return { stop, logs: () => output };
}

/** Launch the system Chromium (never a downloaded one). */
export function launchBrowser(options = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    ...options,
  });
}

/** Sign in through the login form and wait for the console shell. */
export async function signIn(page, baseUrl, email, password = DEMO_PASSWORD) {
  await page.goto(`${baseUrl}/login`);
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('shell-header').waitFor({ timeout: 15_000 });
  return page;
}

/**
 * Two users signed in at once, each in its own browser context (own cookies).
 * `a` and `b` are emails (demo password) or { email, password }.
 * Returns [pageA, pageB]; close each with page.context().close().
 */
export async function twoUsers(browser, baseUrl, a, b) {
  const creds = (u) => (typeof u === 'string' ? { email: u, password: DEMO_PASSWORD } : { password: DEMO_PASSWORD, ...u });
  const open = async (u) => {
    const { email, password } = creds(u);
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, baseUrl, email, password);
    return page;
  };
  return Promise.all([open(a), open(b)]);
}

/** A fresh context and page (no cookies), for signed-out scenarios. */
export async function newPage(browser) {
  const context = await browser.newContext();
  return context.newPage();
}

/**
 * One server and one browser for a test file: starts them in node:test's `before` and stops
 * them in `after`. `server` and `browser` (exported live bindings) are set once `before` ran.
 */
export let server;
export let browser;
export function useServerAndBrowser(serverOptions) {
  before(async () => {
    server = await startServer(serverOptions);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });
}
