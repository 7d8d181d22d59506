// The tenant store's modules on store/sql.h (sessions, webhooks, members)
// on a real PostgreSQL server. scripts/test.sh runs the C unit tests
// without a server (their SQLite half); this starts a throwaway PostgreSQL
// (tests/lib/postgres.mjs) and runs the same binary, build/tests/
// test_tenant_sql (or build/asan/tests/test_tenant_sql when INLET_BIN is the
// sanitizer build), with INLET_TEST_DATABASE_URL set, so every case runs on
// PostgreSQL too: the tenant migrations through the dialect rewriter, a
// token accepted once and an account keeping an owner with callers racing.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, INLET_BIN, SCALE, assertNoSanitizer } from '../lib/inlet.mjs';
import { startPostgres, stopAllPostgres } from '../lib/postgres.mjs';

after(stopAllPostgres);

const asan = INLET_BIN.includes(`${path.sep}asan${path.sep}`);
const UNIT = path.join(REPO_ROOT, asan ? 'build/asan/tests/test_tenant_sql' : 'build/tests/test_tenant_sql');

function runUnit(env) {
  return new Promise((resolve) => {
    execFile(UNIT, [], { env: { ...process.env, ...env }, timeout: 300_000 * SCALE, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? err.signal) : 0, out: `${stdout}${stderr}` }));
  });
}

test('the tenant store unit tests pass against PostgreSQL', { timeout: 600_000 * SCALE }, async () => {
  assert.ok(existsSync(UNIT), `${UNIT} is built (make unit)`);
  const pg = await startPostgres();
  const { code, out } = await runUnit({ INLET_TEST_DATABASE_URL: pg.url });
  assertNoSanitizer(out, 'test_tenant_sql');
  assert.equal(code, 0, `test_tenant_sql failed:\n${out.slice(-6000)}`);
  // Two groups ran, SQLite then PostgreSQL, with the same cases.
  const passed = [...out.matchAll(/\[  PASSED  \] (\d+) test/g)].map((m) => Number(m[1]));
  assert.equal(passed.length, 2, `two cmocka groups ran:\n${out.slice(-3000)}`);
  assert.equal(passed[0], passed[1], 'as many cases passed on each engine');
  assert.ok(!/\[  FAILED  \]/.test(out), out.slice(-3000));
  assert.match(out, /\[       OK \] t_races/);
  await pg.stop();
});
