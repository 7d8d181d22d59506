// store/sql.h on a real PostgreSQL server. scripts/test.sh runs the C unit
// tests without a server (their SQLite half); this starts a throwaway
// PostgreSQL (tests/lib/postgres.mjs) and runs the same binary,
// build/tests/test_sql (or build/asan/tests/test_sql when INLET_BIN is the
// sanitizer build), with INLET_TEST_DATABASE_URL set, so its PostgreSQL
// half runs too, including a restart of the server in the middle.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, INLET_BIN, SCALE, assertNoSanitizer } from '../lib/inlet.mjs';
import { startPostgres, stopAllPostgres } from '../lib/postgres.mjs';

after(stopAllPostgres);

const asan = INLET_BIN.includes(`${path.sep}asan${path.sep}`);
const UNIT = path.join(REPO_ROOT, asan ? 'build/asan/tests/test_sql' : 'build/tests/test_sql');

function runUnit(env) {
  return new Promise((resolve) => {
    execFile(UNIT, [], { env: { ...process.env, ...env }, timeout: 300_000 * SCALE, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? err.signal) : 0, out: `${stdout}${stderr}` }));
  });
}

test('the sql unit tests pass against PostgreSQL', { timeout: 600_000 * SCALE }, async () => {
  assert.ok(existsSync(UNIT), `${UNIT} is built (make unit)`);
  const pg = await startPostgres();
  const { code, out } = await runUnit({
    INLET_TEST_DATABASE_URL: pg.url,
    INLET_TEST_PG_RESTART: pg.restartCommand,
  });
  assertNoSanitizer(out, 'test_sql');
  assert.equal(code, 0, `test_sql failed:\n${out.slice(-6000)}`);
  // Three groups ran: the dialect, SQLite and PostgreSQL, with no failure
  // and nothing skipped on PostgreSQL (the restart case included).
  const passed = [...out.matchAll(/\[  PASSED  \] (\d+) test/g)].map((m) => Number(m[1]));
  assert.equal(passed.length, 3, `three cmocka groups ran:\n${out.slice(-3000)}`);
  assert.ok(!/\[  FAILED  \]/.test(out), out.slice(-3000));
  assert.ok(/postgres: reconnected/.test(out), 'the connections came back after the server went away');
  const skipped = [...out.matchAll(/\[  SKIPPED \] (\d+) test/g)].map((m) => Number(m[1]));
  assert.deepEqual(skipped, [1], 'only the SQLite group skips (the reconnect case)');
  await pg.stop();
});
