// The job queue (store/queue.h) on a real PostgreSQL server. scripts/test.sh
// runs the C unit tests without a server (their SQLite half); this starts a
// throwaway PostgreSQL (tests/lib/postgres.mjs) and runs the same binary,
// build/tests/test_queue (or build/asan/tests/test_queue when INLET_BIN is
// the sanitizer build), with INLET_TEST_DATABASE_URL set, so every queue
// case runs on PostgreSQL too, with the claimers racing on SKIP LOCKED.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { SCALE } from '../lib/inlet.mjs';
import { stopAllPostgres } from '../lib/postgres.mjs';
import { runUnitOnPostgres } from '../lib/unit_pg.mjs';

after(stopAllPostgres);

test('the queue unit tests pass against PostgreSQL', { timeout: 600_000 * SCALE }, async () => {
  const out = await runUnitOnPostgres('test_queue');
  assert.match(out, /\[  SKIPPED \] t_pg_skip_locked/, 'the SQLite group skips the PostgreSQL case');
  assert.match(out, /\[  SKIPPED \] t_legacy_file/, 'the PostgreSQL group skips the jobs.db case');
  assert.match(out, /\[       OK \] t_pg_skip_locked/, 'the SKIP LOCKED case ran on PostgreSQL');
});
