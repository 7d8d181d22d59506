#!/usr/bin/env bash
# Builds and runs libFuzzer drivers for a bounded time each.
#   scripts/fuzz.sh tests/fuzz/fuzz_urlenc.c [more drivers...]
#   FUZZ_SECONDS=60 scripts/fuzz.sh tests/fuzz/fuzz_*.c
# Each driver tests/fuzz/NAME.c becomes build/fuzz/NAME and runs over
# build/fuzz/corpus/NAME, a working copy seeded from tests/fuzz/corpus/NAME
# (so what it learns stays out of git but carries over to the next run),
# with tests/fuzz/NAME.dict as its dictionary when there is one.
# Crash inputs land in tests/fuzz/artifacts/ (git-ignored); reproduce one
# with build/fuzz/NAME tests/fuzz/artifacts/NAME-crash-... . Exits non-zero
# if any driver fails to build or finds a crash, after running them all.
set -euo pipefail

cd "$(dirname "$0")/.."

if [ $# -eq 0 ]; then
  echo "usage: $0 tests/fuzz/fuzz_X.c..." >&2
  exit 2
fi

CC=${FUZZ_CC:-clang}
SECONDS_EACH=${FUZZ_SECONDS:-30}
if ! command -v "$CC" >/dev/null 2>&1; then
  echo "fuzz: $CC not found (scripts/deps.sh fuzz installs it)" >&2
  exit 2
fi

CFLAGS=(-std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Isrc)
# The parsers and the core helpers they use, named one by one: other
# modules (even in src/core) pull in libraries a fuzz build does not link.
SOURCES=(
  src/core/alloc.c src/core/arena.c src/core/buf.c src/core/err.c src/core/isotime.c
  src/ingest/kv.c src/ingest/urlenc.c src/ingest/multipart.c src/ingest/header.c
  src/events/envelope.c src/events/sentry_auth.c src/events/decompress.c
  src/events/stack.c src/events/sentry_items.c src/events/zcodec.c src/events/trackx.c src/events/report.c
  src/ingest/importfmt.c src/app/redis_url.c src/blob/s3xml.c
)
LIBS=(-ljson-c -lz -lbrotlidec -lzstd -lm)

# UBSan only reports and carries on unless told to stop; a report is a bug.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

mkdir -p build/fuzz tests/fuzz/artifacts
failed=()

for driver in "$@"; do
  name=$(basename "$driver" .c)
  bin=build/fuzz/$name
  log=build/fuzz/$name.log
  work=build/fuzz/corpus/$name

  echo "fuzz: building $name" >&2
  if ! "$CC" "${CFLAGS[@]}" -o "$bin" "$driver" "${SOURCES[@]}" "${LIBS[@]}"; then
    failed+=("$name (build)")
    continue
  fi

  mkdir -p "$work"
  if [ -d "tests/fuzz/corpus/$name" ]; then
    cp -f tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null || true
  fi

  # A dictionary of the format's tokens (tests/fuzz/NAME.dict) gets the
  # fuzzer past delimiters and header names much sooner.
  opts=(-max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="tests/fuzz/artifacts/$name-")
  [ -f "tests/fuzz/$name.dict" ] && opts+=(-dict="tests/fuzz/$name.dict")

  echo "fuzz: running $name for ${SECONDS_EACH}s" >&2
  rc=0
  "$bin" "${opts[@]}" "$work" >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "fuzz: $name FAILED (exit $rc); last lines of $log:" >&2
    tail -n 40 "$log" >&2
    failed+=("$name")
  else
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
    echo "fuzz: $name ok: ${runs:-?} runs, ${cov:-cov: ?}, corpus $(ls "$work" | wc -l) files" >&2
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: failures: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all drivers clean" >&2
