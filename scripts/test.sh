#!/usr/bin/env bash
# Runs every suite `make test` owns and ends with one line: "N passed, N failed".
#   C unit tests (cmocka) on the normal and the ASan+UBSan build;
#   black-box tests (node --test, real binary over real sockets) on both builds,
#   and once more on the normal build with every store in PostgreSQL ("e2e-pg",
#   INLET_TEST_BACKEND=postgres: a throwaway server per test file);
#   browser tests (playwright-core + Debian's chromium) on the normal build,
#   and the dashboard's flow once more through the full stack (INLET_TEST_STACK=1).
# Suites can be narrowed with SUITES="unit e2e e2e-pg browser".
set -u
cd "$(dirname "$0")/.."

suites=${SUITES:-"unit e2e e2e-pg browser"}
pass=0
fail=0
failed_names=()

count() { # $1 passed, $2 failed, $3 name
	pass=$((pass + $1))
	fail=$((fail + $2))
	[ "$2" -eq 0 ] || failed_names+=("$3")
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-"detect_leaks=1:abort_on_error=0:halt_on_error=1"}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-"print_stacktrace=1:halt_on_error=1"}

if [[ " $suites " == *" unit "* ]]; then
	for t in build/tests/test_* build/asan/tests/test_*; do
		[ -x "$t" ] || continue
		out=$("$t" 2>&1)
		rc=$?
		# A binary may run several cmocka groups: add up every group's line.
		p=$(grep -oE '\[  PASSED  \] [0-9]+' <<<"$out" | grep -oE '[0-9]+$' | awk '{s+=$1} END{print s+0}')
		f=$(grep -oE '\[  FAILED  \] [0-9]+' <<<"$out" | grep -oE '[0-9]+$' | awk '{s+=$1} END{print s+0}')
		p=${p:-0}
		f=${f:-0}
		# A crash or sanitizer abort counts as a failure even if cmocka said nothing.
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
		echo "unit $t: $p passed, $f failed"
		[ "$f" -eq 0 ] || echo "$out" | tail -n 40
		count "$p" "$f" "$t"
	done
fi

node_suite() { # $1 name, $2 binary, rest: paths; CONCURRENCY (default 2) test files at once
	local name=$1 bin=$2
	shift 2
	local log
	log=$(mktemp)
	INLET_BIN=$bin node --test --test-concurrency="${CONCURRENCY:-2}" --test-reporter=spec "$@" >"$log" 2>&1
	local rc=$?
	local p f
	p=$(grep -aE '^ℹ pass [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n1)
	f=$(grep -aE '^ℹ fail [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	if [ "$f" -ne 0 ] || [ -n "${VERBOSE:-}" ]; then cat "$log"; else tail -n 12 "$log"; fi
	echo "$name: $p passed, $f failed"
	count "$p" "$f" "$name"
	rm -f "$log"
}

if [[ " $suites " == *" e2e "* || " $suites " == *" e2e-pg "* || " $suites " == *" browser "* ]]; then
	if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
		npm ci --no-audit --no-fund --loglevel=error || { echo "npm ci failed"; count 0 1 npm; }
	fi
fi
if [[ " $suites " == *" e2e "* ]]; then
	node_suite "e2e (build/inlet)" build/inlet tests/e2e/
	node_suite "e2e (build/asan/inlet)" build/asan/inlet tests/e2e/
fi
if [[ " $suites " == *" e2e-pg "* ]]; then
	# Much of a test's time is spent waiting on PostgreSQL here: a third
	# file at once keeps the suite's time near the SQLite one on 2 cores.
	# Files whose answer does not depend on the backend are left out: the
	# *_pg files run the C unit tests against their own PostgreSQL already,
	# fullstack brings its own stack on PostgreSQL, web_build reads no store.
	mapfile -t pg_files < <(ls tests/e2e/*.test.mjs |
		grep -vE '/([a-z]+_pg|fullstack|web_build)\.test\.mjs$')
	INLET_TEST_BACKEND=postgres CONCURRENCY=3 node_suite "e2e-pg (build/inlet)" build/inlet "${pg_files[@]}"
fi
if [[ " $suites " == *" browser "* ]]; then
	node_suite "browser" build/inlet tests/browser/
	# The dashboard's flow again, through nginx in front of two nodes on
	# PostgreSQL, Redis, S3 and ClickHouse (tests/lib/stack.mjs).
	INLET_TEST_STACK=1 node_suite "browser through the full stack" build/inlet tests/browser/dashboard.test.mjs
fi

[ ${#failed_names[@]} -eq 0 ] || printf 'failed: %s\n' "${failed_names[@]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
