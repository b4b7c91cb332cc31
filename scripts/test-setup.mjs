// Runs first in `npm test`: finds, or provisions, what the specs need beyond Node, and says what it did.
//
//   Chromium        spec/e2e/ (browser end-to-end). Found at CHROMIUM_PATH or a usual place; else, as
//                   root (or with password-less sudo) on Debian/Ubuntu, installed with apt-get (`chromium`).
//   redis-server    spec/cluster/ starts private Redis servers with it; installed with apt-get if missing.
//   Redis           spec/cluster/demo-cluster.spec.ts talks to OBJECT_SYNC_REDIS_URL (default
//                   redis://127.0.0.1:6379); a local one that does not answer is started.
//   PostgreSQL      spec/adapters/stores/postgres*, spec/cluster/: OBJECT_SYNC_PG_URL (default
//                   postgres://postgres@127.0.0.1:5432/test); a local cluster that does not answer is
//                   started (pg_ctlcluster or `service postgresql start`), a missing database created.
//
// No spec is ever skipped: when something cannot be provided, this stops `npm test` with a message that
// names the specs that need it and what to do. `npm run test:local` runs the specs that need none of it,
// and `npm start` (the demo, on the embedded store) needs none of it either.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Where Chromium is looked for, in this order (spec/e2e/browser.ts looks in the same places). */
const CHROMIUM_CANDIDATES = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome-stable',
  '/usr/bin/google-chrome',
].filter(Boolean);
const PG_URL = process.env.OBJECT_SYNC_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.OBJECT_SYNC_REDIS_URL ?? 'redis://127.0.0.1:6379';

const say = (line) => console.log(`test setup: ${line}`);
const problems = [];

/** The path of an executable on the PATH, or undefined. */
function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

/** How to run a command as root here: [] when we are root, ['sudo', '-n'] when allowed, else undefined. */
function asRoot() {
  if (process.getuid?.() === 0) return [];
  if (onPath('sudo') && spawnSync('sudo', ['-n', 'true']).status === 0) return ['sudo', '-n'];
  return undefined;
}

let aptUpdated = false;
/** Installs Debian packages with apt-get when we may; whether it worked. */
function aptInstall(...packages) {
  const root = asRoot();
  if (!onPath('apt-get') || !root) return false;
  const run = (args) =>
    spawnSync(root[0] ?? 'apt-get', [...root.slice(1), ...(root.length ? ['apt-get'] : []), ...args], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status === 0;
  say(`installing ${packages.join(', ')} with apt-get (once; this takes a minute or two)...`);
  if (!aptUpdated) aptUpdated = run(['update', '-qq']);
  return run(['install', '-y', '-qq', '--no-install-recommends', ...packages]);
}

/** Chromium for the browser specs. */
function chromium() {
  let found = CHROMIUM_CANDIDATES.find((path) => existsSync(path));
  if (found) return say(`Chromium: ${found} (found)`);
  if (aptInstall('chromium')) found = CHROMIUM_CANDIDATES.find((path) => existsSync(path));
  if (found) return say(`Chromium: ${found} (installed Debian's chromium with apt-get)`);
  problems.push(
    'spec/e2e/ (browser end-to-end) needs Chromium: install it (Debian/Ubuntu: `apt-get install chromium`) ' +
      'or set CHROMIUM_PATH to a Chromium or Chrome binary',
  );
}

/** redis-server on the PATH for the cluster specs. */
function redisServer() {
  let found = onPath('redis-server');
  if (found) return say(`redis-server: ${found} (found)`);
  if (aptInstall('redis-server')) found = onPath('redis-server');
  if (found) return say(`redis-server: ${found} (installed Debian's redis-server with apt-get)`);
  problems.push(
    'spec/cluster/ needs redis-server on the PATH (Debian/Ubuntu: `apt-get install redis-server`)',
  );
}

/** Whether something answers a TCP connection at host:port within a second. */
function answers(host, port) {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** Waits up to `ms` for host:port to answer. */
async function comesUp(host, port, ms) {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await answers(host, port)) return true;
    await sleep(500);
  }
  return false;
}

const isLocal = (host) => ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host);

/** The Redis that the cluster demo spec talks to. */
async function redis() {
  const url = new URL(REDIS_URL);
  const host = url.hostname;
  const port = Number(url.port || 6379);
  if (await answers(host, port)) return say(`Redis: ${REDIS_URL} (answers)`);
  const server = onPath('redis-server');
  if (isLocal(host) && server) {
    const args = [
      '--daemonize',
      'yes',
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
    ];
    spawnSync(server, [...args, 'no'], { stdio: 'ignore' });
    if (await comesUp(host, port, 10_000))
      return say(`Redis: ${REDIS_URL} (started: redis-server --daemonize)`);
  }
  problems.push(
    `spec/cluster/demo-cluster.spec.ts needs Redis at ${REDIS_URL}: start it, or set OBJECT_SYNC_REDIS_URL`,
  );
}

/** Tries to start the local PostgreSQL cluster(s); whether a command ran. */
function startPostgres() {
  const root = asRoot() ?? [];
  const run = (cmd, args) =>
    spawnSync(root[0] ?? cmd, [...root.slice(1), ...(root.length ? [cmd] : []), ...args], { stdio: 'ignore' })
      .status === 0;
  if (onPath('pg_ctlcluster') && existsSync('/etc/postgresql')) {
    let started = false;
    for (const version of readdirSync('/etc/postgresql')) {
      started = run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start']) || started;
    }
    if (started) return 'pg_ctlcluster';
  }
  if (onPath('service') && run('service', ['postgresql', 'start'])) return 'service postgresql start';
  return undefined;
}

/** PostgreSQL with the specs' database. */
async function postgres() {
  const { default: pg } = await import('pg');
  const url = new URL(PG_URL);
  const query = async (database, sql) => {
    const at = new URL(PG_URL);
    at.pathname = `/${encodeURIComponent(database)}`;
    const client = new pg.Client({ connectionString: at.href, connectionTimeoutMillis: 3000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return await client.query(sql);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const database = decodeURIComponent(url.pathname.slice(1)) || 'postgres';
  const port = Number(url.port || 5432);
  let how = 'answers';
  if (!(await answers(url.hostname, port))) {
    const started = isLocal(url.hostname) ? startPostgres() : undefined;
    if (!started || !(await comesUp(url.hostname, port, 20_000))) {
      problems.push(
        `spec/adapters/stores/postgres*.spec.ts and spec/cluster/ need PostgreSQL at ${PG_URL} ` +
          '(trust or password in the URL): start it, or set OBJECT_SYNC_PG_URL',
      );
      return;
    }
    how = `started: ${started}`;
  }
  try {
    await query(database, 'SELECT 1');
  } catch (err) {
    if (err.code !== '3D000') {
      problems.push(`PostgreSQL at ${PG_URL} refused the specs' connection: ${err.message}`);
      return;
    }
    await query('postgres', `CREATE DATABASE "${database.replace(/"/g, '""')}"`);
    how += `; created database ${database}`;
  }
  say(`PostgreSQL: ${PG_URL} (${how})`);
}

chromium();
redisServer();
await redis();
try {
  await postgres();
} catch (err) {
  problems.push(`PostgreSQL at ${PG_URL}: ${err.message}`);
}
if (problems.length > 0) {
  console.error('\ntest setup: `npm test` runs every spec, and some need what this machine lacks:');
  for (const problem of problems) console.error(`  - ${problem}`);
  console.error(
    '\n`npm run test:local` runs the specs that need none of these; `npm start` (the demo) needs none either.',
  );
  process.exit(1);
}
