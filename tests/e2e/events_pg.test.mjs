// The error-tracking store (store/events.c, store/events_read.c) on a real
// PostgreSQL server. scripts/test.sh runs the C unit tests without a server
// (their SQLite half); this starts a throwaway PostgreSQL
// (tests/lib/postgres.mjs) and runs the same binary, build/tests/
// test_events_sql (or build/asan/tests/test_events_sql when INLET_BIN is the
// sanitizer build), with INLET_TEST_DATABASE_URL set, so every case runs on
// PostgreSQL too: issues, sessions, counters, dictionaries, search through
// the GIN index on the blind tokens, keyset pages, and two writers making
// the same issues at once.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, INLET_BIN, SCALE, assertNoSanitizer } from '../lib/inlet.mjs';
import { startPostgres, stopAllPostgres } from '../lib/postgres.mjs';

after(stopAllPostgres);

const asan = INLET_BIN.includes(`${path.sep}asan${path.sep}`);
const UNIT = path.join(REPO_ROOT, asan ? 'build/asan/tests/test_events_sql' : 'build/tests/test_events_sql');

function runUnit(env) {
  return new Promise((resolve) => {
    execFile(UNIT, [], { env: { ...process.env, ...env }, timeout: 300_000 * SCALE, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? err.signal) : 0, out: `${stdout}${stderr}` }));
  });
}

test('the error-tracking store unit tests pass against PostgreSQL', { timeout: 600_000 * SCALE }, async () => {
  assert.ok(existsSync(UNIT), `${UNIT} is built (make unit)`);
  const pg = await startPostgres();
  const { code, out } = await runUnit({ INLET_TEST_DATABASE_URL: pg.url });
  assertNoSanitizer(out, 'test_events_sql');
  assert.equal(code, 0, `test_events_sql failed:\n${out.slice(-6000)}`);
  // Two groups ran, SQLite then PostgreSQL, with the same cases.
  const passed = [...out.matchAll(/\[  PASSED  \] (\d+) test/g)].map((m) => Number(m[1]));
  assert.equal(passed.length, 2, `two cmocka groups ran:\n${out.slice(-3000)}`);
  assert.equal(passed[0], passed[1], 'as many cases passed on each engine');
  assert.ok(!/\[  FAILED  \]/.test(out), out.slice(-3000));
  assert.match(out, /\[       OK \] t_two_writers/);
  await pg.stop();
});
