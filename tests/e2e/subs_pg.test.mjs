// The submission store (store/subs.c) on store/sql.h on a real PostgreSQL
// server. scripts/test.sh runs the C unit tests without a server (their
// SQLite half); this starts a throwaway PostgreSQL (tests/lib/postgres.mjs)
// and runs the same binary, build/tests/test_subs_sql (or
// build/asan/tests/test_subs_sql when INLET_BIN is the sanitizer build),
// with INLET_TEST_DATABASE_URL set, so every case runs on PostgreSQL too:
// the migrations (migration 3 with its GIN index instead of FTS5), keyset
// pages, the outbox drained by the ids read, counts added by two stores on
// one schema, and a batch in which one insert fails while the rest commit.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { SCALE } from '../lib/inlet.mjs';
import { stopAllPostgres } from '../lib/postgres.mjs';
import { runUnitOnPostgres } from '../lib/unit_pg.mjs';

after(stopAllPostgres);

test('the submission store unit tests pass against PostgreSQL', { timeout: 600_000 * SCALE }, async () => {
  const out = await runUnitOnPostgres('test_subs_sql');
  assert.match(out, /\[       OK \] t_batch_failure/);
});
