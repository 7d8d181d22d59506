// Moves of an endpoint's rows between submission stores (store/move.c) on
// a real PostgreSQL server. scripts/test.sh runs the C unit tests without a
// server (their SQLite half); this starts a throwaway PostgreSQL
// (tests/lib/postgres.mjs) and runs the same binary, build/tests/
// test_move_sql (or build/asan/tests/test_move_sql when INLET_BIN is the
// sanitizer build), with INLET_TEST_DATABASE_URL set, so every case runs on
// PostgreSQL too: a move under concurrent inserts, status changes and
// deletes ends exact, a stopped move resumes, clean-up empties the source,
// and a move to another server (a second database on the same server).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { SCALE, makeDataDir, runInlet } from '../lib/inlet.mjs';
import { startPostgres, stopAllPostgres, postgresBinDir } from '../lib/postgres.mjs';
import { runUnitOnPostgres } from '../lib/unit_pg.mjs';

after(stopAllPostgres);

test('the move unit tests pass against PostgreSQL', { timeout: 600_000 * SCALE }, async () => {
  const out = await runUnitOnPostgres('test_move_sql');
  assert.match(out, /\[       OK \] t_move_far/);
});

test('inlet backup on PostgreSQL: pg_dump of the database, then the blobs', { timeout: 120_000 * SCALE }, async () => {
  const pg = await startPostgres();
  const bin = postgresBinDir();
  const run = promisify(execFile);
  const psql = (sql) => run(path.join(bin, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', pg.url, '-c', sql]);
  await psql('CREATE SCHEMA shared; CREATE TABLE shared.submissions(id bigint primary key, sealed bytea);' +
    " INSERT INTO shared.submissions VALUES (1, '\\x00ff'); CREATE SCHEMA ep_ep_abc;" +
    ' CREATE TABLE ep_ep_abc.submissions(id bigint primary key)');
  const data = await makeDataDir();
  mkdirSync(path.join(data, 'blobs', '7'), { recursive: true });
  writeFileSync(path.join(data, 'blobs', '7', 'f.0'), 'sealed');
  const out = path.join(data, 'backup');
  // pg_dump is found in /usr/lib/postgresql/*/bin when it is not on PATH.
  const bk = await runInlet(['backup', '--data', data, '--out', out],
    { env: { INLET_DATABASE_URL: pg.url, PATH: '/usr/bin:/bin' } });
  assert.equal(bk.code, 0, bk.stderr);
  assert.match(bk.stdout, /backed up 1 databases .* and 1 files/);
  assert.ok(statSync(path.join(out, 'database.dump')).size > 0);
  assert.ok(existsSync(path.join(out, 'blobs', '7', 'f.0')));
  // Every schema is in the one dump (pg_restore reads it back).
  const { stdout } = await run(path.join(bin, 'pg_restore'), ['--list', path.join(out, 'database.dump')]);
  assert.match(stdout, /TABLE shared submissions/);
  assert.match(stdout, /TABLE ep_ep_abc submissions/);
  // Restored into an empty database, the rows come back byte for byte.
  await psql('CREATE DATABASE restored');
  const restored = pg.url.replace(/\/inlet$/, '/restored');
  await run(path.join(bin, 'pg_restore'), ['--dbname', restored, path.join(out, 'database.dump')]);
  const { stdout: row } = await run(path.join(bin, 'psql'), ['-X', '-At', '-d', restored, '-c',
    "SELECT encode(sealed, 'hex') FROM shared.submissions"]);
  assert.equal(row.trim(), '00ff');
  // Without a pg_dump: a clear error, and nothing half-made is called a backup.
  const none = await runInlet(['backup', '--data', data, '--out', path.join(data, 'b2')],
    { env: { INLET_DATABASE_URL: pg.url, INLET_PG_DUMP: '/nonexistent/pg_dump' } });
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /pg_dump/);
  await pg.stop();
});
