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
import { SCALE } from '../lib/inlet.mjs';
import { stopAllPostgres } from '../lib/postgres.mjs';
import { runUnitOnPostgres } from '../lib/unit_pg.mjs';

after(stopAllPostgres);

test('the error-tracking store unit tests pass against PostgreSQL', { timeout: 600_000 * SCALE }, async () => {
  const out = await runUnitOnPostgres('test_events_sql');
  assert.match(out, /\[       OK \] t_two_writers/);
});
