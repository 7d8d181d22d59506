// The job queue (store/queue.h) on a real PostgreSQL server. scripts/test.sh
// runs the C unit tests without a server (their SQLite half); this starts a
// throwaway PostgreSQL (tests/lib/postgres.mjs) and runs the same binary,
// build/tests/test_queue (or build/asan/tests/test_queue when INLET_BIN is
// the sanitizer build), with INLET_TEST_DATABASE_URL set, so every queue
// case runs on PostgreSQL too, with the claimers racing on SKIP LOCKED.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, INLET_BIN, SCALE, assertNoSanitizer } from '../lib/inlet.mjs';
import { startPostgres, stopAllPostgres } from '../lib/postgres.mjs';

after(stopAllPostgres);

const asan = INLET_BIN.includes(`${path.sep}asan${path.sep}`);
const UNIT = path.join(REPO_ROOT, asan ? 'build/asan/tests/test_queue' : 'build/tests/test_queue');

function runUnit(env) {
  return new Promise((resolve) => {
    execFile(UNIT, [], { env: { ...process.env, ...env }, timeout: 300_000 * SCALE, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? err.signal) : 0, out: `${stdout}${stderr}` }));
  });
}

test('the queue unit tests pass against PostgreSQL', { timeout: 600_000 * SCALE }, async () => {
  assert.ok(existsSync(UNIT), `${UNIT} is built (make unit)`);
  const pg = await startPostgres();
  const { code, out } = await runUnit({ INLET_TEST_DATABASE_URL: pg.url });
  assertNoSanitizer(out, 'test_queue');
  assert.equal(code, 0, `test_queue failed:\n${out.slice(-6000)}`);
  // Two groups ran, SQLite then PostgreSQL, each skipping only the other
  // engine's own case.
  const passed = [...out.matchAll(/\[  PASSED  \] (\d+) test/g)].map((m) => Number(m[1]));
  assert.equal(passed.length, 2, `two cmocka groups ran:\n${out.slice(-3000)}`);
  assert.equal(passed[0], passed[1], 'as many cases passed on each engine');
  assert.ok(!/\[  FAILED  \]/.test(out), out.slice(-3000));
  assert.match(out, /\[  SKIPPED \] t_pg_skip_locked/, 'the SQLite group skips the PostgreSQL case');
  assert.match(out, /\[  SKIPPED \] t_legacy_file/, 'the PostgreSQL group skips the jobs.db case');
  assert.match(out, /\[       OK \] t_pg_skip_locked/, 'the SKIP LOCKED case ran on PostgreSQL');
  await pg.stop();
});
