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
import { SCALE } from '../lib/inlet.mjs';
import { stopAllPostgres } from '../lib/postgres.mjs';
import { runUnitOnPostgres } from '../lib/unit_pg.mjs';

after(stopAllPostgres);

test('the tenant store unit tests pass against PostgreSQL', { timeout: 600_000 * SCALE }, async () => {
  const out = await runUnitOnPostgres('test_tenant_sql');
  assert.match(out, /\[       OK \] t_races/);
});
