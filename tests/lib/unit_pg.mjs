// The C unit tests that run on both engines (tests/unit/engines.h), run
// against a real PostgreSQL. scripts/test.sh runs those binaries without a
// server (their SQLite group); the *_pg.test.mjs files call this to start a
// throwaway PostgreSQL (tests/lib/postgres.mjs) and run the same binary,
// build/tests/NAME (build/asan/tests/NAME when INLET_BIN is the sanitizer
// build), with INLET_TEST_DATABASE_URL set, so that both groups run.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, INLET_BIN, SCALE, assertNoSanitizer } from './inlet.mjs';
import { startPostgres } from './postgres.mjs';

const asan = INLET_BIN.includes(`${path.sep}asan${path.sep}`);

/** build/tests/NAME or its ASan twin, as INLET_BIN is. */
export const unitBinary = (name) => path.join(REPO_ROOT, asan ? `build/asan/tests/${name}` : `build/tests/${name}`);

function runUnit(bin, env) {
  return new Promise((resolve) => {
    execFile(bin, [], { env: { ...process.env, ...env }, timeout: 300_000 * SCALE, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? err.signal) : 0, out: `${stdout}${stderr}` }));
  });
}

/**
 * Runs NAME's SQLite and PostgreSQL groups: both must pass, with as many
 * cases each. Resolves the output, for checks of particular cases (a case
 * that must have run: `[       OK ] t_name`).
 */
export async function runUnitOnPostgres(name) {
  const bin = unitBinary(name);
  assert.ok(existsSync(bin), `${bin} is built (make unit)`);
  const pg = await startPostgres();
  try {
    const { code, out } = await runUnit(bin, { INLET_TEST_DATABASE_URL: pg.url });
    assertNoSanitizer(out, name);
    assert.equal(code, 0, `${name} failed:\n${out.slice(-6000)}`);
    const passed = [...out.matchAll(/\[  PASSED  \] (\d+) test/g)].map((m) => Number(m[1]));
    assert.equal(passed.length, 2, `two cmocka groups ran:\n${out.slice(-3000)}`);
    assert.equal(passed[0], passed[1], 'as many cases passed on each engine');
    assert.ok(!/\[  FAILED  \]/.test(out), out.slice(-3000));
    return out;
  } finally {
    await pg.stop();
  }
}
