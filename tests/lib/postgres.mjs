// A throwaway PostgreSQL server for tests: initdb into a fresh temporary
// folder, started on 127.0.0.1 and a free port (its socket in the same
// folder, fsync off), one database created, stopped and removed by stop().
//
// PostgreSQL refuses to run as root. When the tests run as root (CI, and
// this project's machines), the server's commands run as an unprivileged
// user through runuser: `postgres` (made by Debian's postgresql package)
// when it exists, else an `inlet-test` system user made here, else
// `nobody`. The folder is chowned to that user; clients (the tests, inlet)
// connect over TCP as the database superuser `postgres` with trust auth.

import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The folder with initdb, pg_ctl and postgres: $PG_BIN, else the newest
 *  of Debian's /usr/lib/postgresql/N/bin. */
export function postgresBinDir() {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
    : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (!versions.length) {
    throw new Error('PostgreSQL server binaries not found (install them: scripts/deps.sh test)');
  }
  return path.join(root, versions[0], 'bin');
}

function userExists(name) {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function ids(name) {
  const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', name]).toString().trim());
  return { uid, gid };
}

/** Who runs the server: null for "the current user", else a user name. */
function serverUser() {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  if (userExists('postgres')) return 'postgres';
  if (!userExists('inlet-test')) {
    try {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin',
        'inlet-test'], { stdio: 'ignore' });
    } catch {
      // Another test file may have made it at the same moment; checked below.
    }
  }
  return userExists('inlet-test') ? 'inlet-test' : 'nobody';
}

/** A command line that runs argv as user (or as we are, user null). */
function asUser(user, argv) {
  return user ? ['runuser', '-u', user, '--', ...argv] : argv;
}

function shellQuote(s) {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const live = new Set();

/**
 * Starts a server and creates database `db`. Returns
 *   { url, port, dir, bin, user, restartCommand, stop() }
 * restartCommand is a shell command line that restarts the server in place
 * (same port and data): what a test runs to see clients reconnect.
 */
// maxConnections: the server's max_connections (each inlet process holds
// a pool per store, so a test process running many servers wants more).
export async function startPostgres({ db = 'inlet', maxConnections = 60 } = {}) {
  const bin = postgresBinDir();
  const user = serverUser();
  // As root the folder must be reachable by the server's user: /tmp is,
  // a TMPDIR under /root may not be.
  const base = user ? '/tmp' : os.tmpdir();
  const dir = await mkdtemp(path.join(base, 'inlet-pg-'));
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'server.log');
  const exec = (argv, opts = {}) => {
    const [cmd, ...args] = asUser(user, argv);
    return run(cmd, args, { cwd: dir, timeout: 120_000, ...opts });
  };
  const server = { dir, bin, user, data, log, port: 0, url: '', restartCommand: '', running: false };
  live.add(server);
  server.stop = () => stopServer(server, exec);
  try {
    if (user) {
      const { uid, gid } = ids(user);
      await chown(dir, uid, gid);
    }
    await exec([path.join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust',
      '-E', 'UTF8', '--locale=C', '--no-sync']);
    // A port can be taken between freePort() and the server's bind: retry.
    let lastErr;
    for (let attempt = 0; attempt < 3 && !server.running; attempt++) {
      const port = await freePort();
      const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off` +
        ` -c synchronous_commit=off -c full_page_writes=off -c max_connections=${maxConnections}`;
      try {
        await exec([path.join(bin, 'pg_ctl'), '-D', data, '-l', log, '-w', '-t', '60',
          '-o', opts, 'start']);
        server.port = port;
        server.running = true;
      } catch (e) {
        lastErr = e;
      }
    }
    if (!server.running) {
      const tail = existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : '';
      throw new Error(`PostgreSQL did not start: ${lastErr?.message}\n${tail}`);
    }
    await run(path.join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(server.port),
      '-U', 'postgres', db], { timeout: 60_000 });
    server.url = `postgres://postgres@127.0.0.1:${server.port}/${db}`;
    server.restartCommand = asUser(user, [path.join(bin, 'pg_ctl'), '-D', data, '-l', log,
      '-w', '-t', '60', '-m', 'fast', 'restart']).map(shellQuote).join(' ');
    return server;
  } catch (e) {
    await server.stop();
    throw e;
  }
}

async function stopServer(server, exec) {
  if (!live.has(server)) return;
  live.delete(server);
  if (server.running) {
    server.running = false;
    try {
      await exec([path.join(server.bin, 'pg_ctl'), '-D', server.data, '-m', 'immediate', '-w',
        'stop']);
    } catch {
      // Already gone; the folder goes anyway.
    }
  }
  await rm(server.dir, { recursive: true, force: true });
}

/** Stops every server this process started (for after() hooks). */
export async function stopAllPostgres() {
  await Promise.all([...live].map((s) => s.stop()));
}

// A test process that dies without its after() hook still takes its
// servers down: a leftover postmaster would hold its port and memory.
process.on('exit', () => {
  for (const s of live) {
    try {
      const argv = asUser(s.user, [path.join(s.bin, 'pg_ctl'), '-D', s.data, '-m', 'immediate',
        'stop']);
      execFileSync(argv[0], argv.slice(1), { stdio: 'ignore', cwd: s.dir, timeout: 10_000 });
    } catch {
      // not running, or already gone
    }
    rmSync(s.dir, { recursive: true, force: true });
  }
});
