// Black-box harness for the real `inlet` binary.
//
// Every test file gets fresh temporary data folders (mkdtemp) and starts its
// own server(s) on port 0; the port is read from the server's "listening" log
// line, never fixed. Everything spawned here is tracked so that `cleanup()`
// (registered with node:test's after()) can stop it and remove the folders
// even when a test failed half-way.
//
// A sanitizer report (ASan, LSan, UBSan) on the stderr of any inlet process,
// server or CLI, fails the test that stops it.

import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { startPostgres } from './postgres.mjs';

/** Resolves `value` after `ms`, or on cancel(); never keeps the process alive. */
function timer(ms, value = null) {
  let t;
  let done;
  const promise = new Promise((resolve) => {
    done = resolve;
    t = setTimeout(() => resolve(value), ms);
  });
  return { promise, cancel: () => { clearTimeout(t); done(value); } };
}

/** Whichever comes first: `p`, or null after `ms`. */
async function within(p, ms) {
  const t = timer(ms);
  try {
    return await Promise.race([p, t.promise]);
  } finally {
    t.cancel();
  }
}

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const INLET_BIN = path.resolve(REPO_ROOT, process.env.INLET_BIN || 'build/inlet');

// Sanitizer builds are slower; INLET_TEST_TIMEOUT_SCALE stretches every wait.
export const SCALE = Math.max(1, Number(process.env.INLET_TEST_TIMEOUT_SCALE) || 1);
export const READY_TIMEOUT_MS = 10_000 * SCALE;
export const STOP_TIMEOUT_MS = 10_000 * SCALE;
export const CLI_TIMEOUT_MS = 30_000 * SCALE;

const SANITIZER_MARKS = ['AddressSanitizer', 'LeakSanitizer', 'runtime error:', 'UndefinedBehaviorSanitizer'];

/** Returns the first sanitizer mark found in `text`, or null. */
export function sanitizerMark(text) {
  for (const m of SANITIZER_MARKS) if (text.includes(m)) return m;
  return null;
}

/** Throws when `text` (a process's stderr) holds a sanitizer report. */
export function assertNoSanitizer(text, label) {
  const m = sanitizerMark(text);
  if (m) {
    const at = text.indexOf(m);
    const excerpt = text.slice(Math.max(0, at - 2000), at + 6000);
    throw new Error(`${label}: sanitizer report ("${m}") on stderr:\n${excerpt}`);
  }
}

// ---------------------------------------------------------------------------
// The database backend: INLET_TEST_BACKEND=postgres runs every installation
// on PostgreSQL instead of SQLite files. One throwaway server per test
// process (started at the first need, stopped by cleanup() or at exit) and
// one database per data folder, made at its first use: a server restarted
// on a folder finds its data, two servers given one folder share it, and
// the CLI given --data DIR reaches the same database.

export const BACKEND = process.env.INLET_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';
export const ON_POSTGRES = BACKEND === 'postgres';

const runFile = promisify(execFile);
let pgStarting = null; // promise of the server (startPostgres's object)
const pgDatabases = new Map(); // resolved data folder -> promise of its URL

/** The test process's PostgreSQL server (started on first call). */
export function testPostgres() {
  if (!pgStarting) {
    // Every inlet process holds a few connections per store (readers,
    // writer, queue, sessions): a file with many servers needs room.
    pgStarting = startPostgres({ db: 'inlet', maxConnections: 300 });
    pgStarting.catch(() => { pgStarting = null; });
  }
  return pgStarting;
}

/** Runs SQL on the test server's database `db` (default the folder-less one) with psql. */
export async function psql(sql, { db = 'inlet' } = {}) {
  const pg = await testPostgres();
  const { stdout } = await runFile(path.join(pg.bin, 'psql'), ['-h', '127.0.0.1', '-p', String(pg.port),
    '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], { timeout: 60_000 });
  return stdout;
}

/** pg_restore of a custom-format dump into the database at url (the test server's). */
export async function pgRestore(url, file) {
  const pg = await testPostgres();
  await runFile(path.join(pg.bin, 'pg_restore'), ['--no-owner', '-d', url, file], { timeout: 120_000 });
}

/** The INLET_DATABASE_URL of a data folder (its database made on first call); null on SQLite. */
export async function databaseUrl(dataDir) {
  if (!ON_POSTGRES) return null;
  const key = path.resolve(dataDir);
  if (!pgDatabases.has(key)) {
    const made = (async () => {
      const pg = await testPostgres();
      const name = `d_${createHash('sha256').update(key).digest('hex').slice(0, 24)}`;
      await runFile(path.join(pg.bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(pg.port),
        '-U', 'postgres', name], { timeout: 60_000 });
      const url = `postgres://postgres@127.0.0.1:${pg.port}/${name}`;
      pgResolved.set(key, url);
      return url;
    })();
    pgDatabases.set(key, made);
    made.catch(() => pgDatabases.delete(key));
  }
  return pgDatabases.get(key);
}

const pgResolved = new Map(); // resolved data folder -> URL, once made (for storeSql)

/**
 * Runs one SQL statement on a store of an installation, synchronously, as
 * the sqlite3 / psql command-line tools print it ('|' between columns, a
 * line per row; trimmed). store: 'tenant', 'jobs', or a submission store's
 * location ('shared', 'ep-<pid>.db'). On PostgreSQL the store is a schema
 * of the folder's database (the folder's server or CLI must have run once)
 * unless a file of that name is in the folder: the submission stores stay
 * in SQLite files until they are ported. q is the SQL, or where the
 * dialects differ { sqlite, postgres }, each engine's own text.
 */
export function storeSql(dataDir, store, q) {
  const file = store === 'tenant' || store === 'jobs' ? `${store}.db`
    : path.join('submissions', store.endsWith('.db') ? store : `${store}.db`);
  const url = pgResolved.get(path.resolve(dataDir));
  if (!ON_POSTGRES || !url || existsSync(path.join(dataDir, file))) {
    return execFileSync('sqlite3', [path.join(dataDir, file), q.sqlite ?? q], { encoding: 'utf8' }).trim();
  }
  q = q.postgres ?? q;
  const schema = store.replace(/\.db$/, '').replace(/-/g, '_').toLowerCase();
  return execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-Atq', '-c', q], {
    encoding: 'utf8', env: { ...process.env, PGOPTIONS: `-c search_path=${schema}` },
  }).trim();
}

/**
 * The folders where the database engine keeps what the stores wrote, apart
 * from the data folders: on PostgreSQL the test server's data directory
 * (tables, WAL), after a CHECKPOINT so that what is committed is in the
 * table files too; [] on SQLite (its files are in the data folders).
 */
export async function databaseDiskDirs() {
  if (!ON_POSTGRES || !pgStarting) return [];
  const pg = await pgStarting;
  await psql('CHECKPOINT');
  return [pg.data];
}

/** The --data folder of a command line, or null. */
function dataArg(args) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--data' && i + 1 < args.length) return args[i + 1];
    if (args[i].startsWith('--data=')) return args[i].slice('--data='.length);
  }
  return null;
}

/** env with INLET_DATABASE_URL for dataDir added, unless the caller set it (even to null). */
async function withDatabase(env, dataDir) {
  if (!ON_POSTGRES || !dataDir || 'INLET_DATABASE_URL' in env) return env;
  return { ...env, INLET_DATABASE_URL: await databaseUrl(dataDir) };
}

/** Stops the test process's PostgreSQL server, if one runs. */
async function stopTestPostgres() {
  if (!pgStarting) return;
  const p = pgStarting;
  pgStarting = null;
  pgDatabases.clear();
  pgResolved.clear();
  try {
    await (await p).stop();
  } catch { /* it never started */ }
}

// ---------------------------------------------------------------------------
// Resource tracking

const liveServers = new Set();
const tempDirs = new Set();

/** A fresh, empty temporary folder, removed by cleanup(). */
export async function makeTempDir(prefix = 'inlet-e2e-') {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** A fresh data folder for one inlet installation. */
export const makeDataDir = () => makeTempDir('inlet-data-');

/**
 * Stops every server still running (SIGTERM, then SIGKILL), removes every
 * temporary folder. Register with `after(cleanup)` in each test file. Throws
 * (failing the file) if a server that was still up had a sanitizer report.
 */
export async function cleanup() {
  const problems = [];
  for (const s of [...liveServers]) {
    try {
      await s.stop({ expectCode: null });
    } catch (e) {
      problems.push(e);
    }
  }
  for (const d of [...tempDirs]) {
    await rm(d, { recursive: true, force: true }).catch(() => {});
    tempDirs.delete(d);
  }
  await stopTestPostgres();
  if (problems.length) throw problems[0];
}

// Last line of defence: never leave a server behind when the runner exits.
process.on('exit', () => {
  for (const s of liveServers) {
    try { s.proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

/** The environment every inlet process gets: ours, without stray INLET_* from the caller. */
export function inletEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('INLET_')) env[k] = v;
  }
  env.INLET_ARGON2_MEMORY_KIB = '1024';
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined || v === null) delete env[k];
    else env[k] = String(v);
  }
  return env;
}

function binaryMissing() {
  return new Error(`inlet binary not found at ${INLET_BIN}: build it (make) or set INLET_BIN`);
}

// ---------------------------------------------------------------------------
// CLI

/**
 * Runs `inlet ...args` to completion. Resolves {code, signal, stdout, stderr}.
 * `input` is written to stdin (then closed). Throws on a sanitizer report or
 * when the command does not finish within `timeout` ms.
 */
export async function runInlet(args, { input, env = {}, timeout = CLI_TIMEOUT_MS } = {}) {
  if (!existsSync(INLET_BIN)) throw binaryMissing();
  env = await withDatabase(env, dataArg(args));
  return new Promise((resolve, reject) => {
    const proc = spawn(INLET_BIN, args, { env: inletEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    proc.stdout.on('data', (c) => out.push(c));
    proc.stderr.on('data', (c) => err.push(c));
    proc.stdin.on('error', () => {}); // the command may not read stdin at all
    if (input !== undefined) proc.stdin.end(input);
    else proc.stdin.end();
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`inlet ${args.join(' ')}: no exit within ${timeout} ms\nstderr:\n${Buffer.concat(err)}`));
    }, timeout);
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      try {
        assertNoSanitizer(stderr, `inlet ${args.join(' ')}`);
      } catch (e) {
        reject(e);
        return;
      }
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Last non-empty line of a command's output, trimmed. */
export function lastLine(text) {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.length ? lines[lines.length - 1] : '';
}

function describeRun(what, r) {
  return `${what} exited ${r.code} (signal ${r.signal})\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

/** `inlet init`; resolves the new account id ("acc_..."). */
export async function initAccount(dataDir, { email, password = 'correct horse battery staple', account } = {}) {
  const args = ['init', '--data', dataDir, '--email', email, '--password-stdin'];
  if (account !== undefined) args.push('--account', account);
  const r = await runInlet(args, { input: `${password}\n` });
  if (r.code !== 0) throw new Error(describeRun('inlet init', r));
  const id = lastLine(r.stdout);
  if (!id.startsWith('acc_')) throw new Error(`inlet init: last stdout line is not an account id: ${JSON.stringify(id)}`);
  return id;
}

/** `inlet keys create`; resolves the API token ("inlet_sk_..."). */
export async function createKeyCli(dataDir, accountId, name = 'tests') {
  const r = await runInlet(['keys', 'create', '--data', dataDir, '--account', accountId, '--name', name]);
  if (r.code !== 0) throw new Error(describeRun('inlet keys create', r));
  const token = lastLine(r.stdout);
  if (!token.startsWith('inlet_sk_')) throw new Error(`inlet keys create: last stdout line is not a token: ${JSON.stringify(token)}`);
  return token;
}

let accountSeq = 0;
/** A new account with one API key: {accountId, token, email}. */
export async function newAccount(dataDir, { email, account } = {}) {
  accountSeq += 1;
  const mail = email || `owner${accountSeq}-${process.pid}@example.test`;
  const accountId = await initAccount(dataDir, { email: mail, account });
  const token = await createKeyCli(dataDir, accountId, `key-${accountSeq}`);
  return { accountId, token, email: mail };
}

// ---------------------------------------------------------------------------
// Server

/**
 * A running `inlet serve`. Fields: url (no trailing slash), port, proc,
 * dataDir, exited (a promise of {code, signal}). stderr is collected whole.
 */
export class InletServer {
  constructor(proc, dataDir) {
    this.proc = proc;
    this.dataDir = dataDir;
    this.url = null;
    this.port = null;
    this.chunks = [];
    this.exitInfo = null;
    this.exited = new Promise((resolve) => {
      const settle = (info) => {
        if (this.exitInfo) return;
        this.exitInfo = info;
        liveServers.delete(this);
        resolve(info);
      };
      proc.on('exit', (code, signal) => settle({ code, signal }));
      // A process that could not be spawned emits 'error' and no 'exit'.
      proc.on('error', (error) => settle({ code: null, signal: null, error }));
    });
    proc.stderr.on('data', (c) => this.chunks.push(c));
    proc.stdout.on('data', () => {});
  }

  /** Everything the server wrote to stderr so far. */
  stderr() {
    return Buffer.concat(this.chunks).toString('utf8');
  }

  /** stderr lines that parse as JSON objects. */
  logLines() {
    const out = [];
    for (const line of this.stderr().split('\n')) {
      const t = line.trim();
      if (!t.startsWith('{')) continue;
      try { out.push(JSON.parse(t)); } catch { /* not a log line */ }
    }
    return out;
  }

  get running() {
    return this.exitInfo === null;
  }

  /**
   * SIGTERM; waits up to STOP_TIMEOUT_MS for the exit (SIGKILL after that).
   * Throws when the exit code is not `expectCode` (0 by default; null skips
   * the check) or when stderr holds a sanitizer report.
   */
  async stop({ expectCode = 0 } = {}) {
    if (this.running) {
      this.proc.kill('SIGTERM');
      const done = await within(this.exited, STOP_TIMEOUT_MS);
      if (!done) {
        this.proc.kill('SIGKILL');
        await this.exited;
        assertNoSanitizer(this.stderr(), 'inlet serve');
        if (expectCode !== null) throw new Error(`inlet serve did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM`);
        return this.exitInfo;
      }
    }
    assertNoSanitizer(this.stderr(), 'inlet serve');
    if (expectCode !== null && (this.exitInfo.code !== expectCode || this.exitInfo.signal)) {
      throw new Error(`inlet serve exited with code ${this.exitInfo.code} signal ${this.exitInfo.signal}, want ${expectCode}\nstderr tail:\n${this.stderr().slice(-4000)}`);
    }
    return this.exitInfo;
  }

  /** Resolves {code, signal} once the process exits; throws after `ms`. */
  async waitExit(ms = STOP_TIMEOUT_MS) {
    const done = await within(this.exited, ms);
    if (!done) throw new Error(`inlet serve still running after ${ms} ms`);
    return done;
  }

  /** kill -9, as a crash would. Resolves once the process is gone. */
  async kill9() {
    if (this.running) this.proc.kill('SIGKILL');
    await this.exited;
    assertNoSanitizer(this.stderr(), 'inlet serve');
    return this.exitInfo;
  }
}

/**
 * Starts `inlet serve --listen 127.0.0.1:0 --data DIR` and waits for the
 * {"msg":"listening","url":...} line on stderr.
 */
export async function startServer(dataDir, { env = {}, args = [] } = {}) {
  if (!existsSync(INLET_BIN)) throw binaryMissing();
  env = await withDatabase(env, dataDir);
  const proc = spawn(INLET_BIN, ['serve', '--listen', '127.0.0.1:0', '--data', dataDir, ...args], {
    env: inletEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = new InletServer(proc, dataDir);
  liveServers.add(server);

  const url = await new Promise((resolve, reject) => {
    let pending = '';
    let found = false;
    const onData = (c) => {
      pending += c.toString('utf8');
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        let obj;
        try { obj = JSON.parse(line); } catch { continue; }
        if (obj && obj.msg === 'listening' && typeof obj.url === 'string') {
          found = true;
          finish(null, obj.url);
          return;
        }
      }
    };
    const onExit = (code, signal) => finish(new Error(`inlet serve exited before listening (code ${code}, signal ${signal})\nstderr:\n${server.stderr()}`));
    const onError = (e) => finish(e);
    const timer = setTimeout(() => finish(new Error(`inlet serve: no "listening" log line within ${READY_TIMEOUT_MS} ms\nstderr:\n${server.stderr()}`)), READY_TIMEOUT_MS);
    function finish(err, value) {
      clearTimeout(timer);
      proc.stderr.off('data', onData);
      proc.off('exit', onExit);
      proc.off('error', onError);
      if (err) {
        if (!found) proc.kill('SIGKILL');
        reject(err);
      } else resolve(value);
    }
    proc.stderr.on('data', onData);
    proc.on('exit', onExit);
    proc.on('error', onError);
  });
  server.url = url.replace(/\/+$/, '');
  let parsed;
  try { parsed = new URL(server.url); } catch { parsed = null; }
  if (!parsed || parsed.protocol !== 'http:' || !parsed.port || parsed.port === '0') {
    await server.stop({ expectCode: null });
    throw new Error(`the "listening" log line says url ${JSON.stringify(url)}; it must be the bound address ` +
      '(http://127.0.0.1:PORT), whatever INLET_PUBLIC_URL says, or no client can find the port');
  }
  server.port = Number(parsed.port);
  return server;
}

/** The base URL the server puts in the URLs it builds. */
export function publicBase(server, env = {}) {
  return (env.INLET_PUBLIC_URL || server.url).replace(/\/+$/, '');
}

/** 32 random bytes in base64, as INLET_MASTER_KEY wants. */
export async function randomMasterKey() {
  const { randomBytes } = await import('node:crypto');
  return randomBytes(32).toString('base64');
}
