#!/usr/bin/env bash
# Installs the Debian packages Inlet needs, only those that are missing.
#   scripts/deps.sh build   what `make` needs to compile build/inlet
#   scripts/deps.sh test    also what `make test` needs (cmocka, node, chromium, servers:
#                           nginx, Redis, ClickHouse, PostgreSQL, started throwaway by the tests)
#   scripts/deps.sh bench   also what bench/ needs (wrk, nginx)
#   scripts/deps.sh fuzz    also clang for libFuzzer
# apt-get runs only when something is absent, so a warm machine pays nothing.
set -euo pipefail

want=(build-essential pkg-config libmicrohttpd-dev libsqlite3-dev libssl-dev
      libjson-c-dev libargon2-dev libzstd-dev libcurl4-openssl-dev zlib1g-dev libbrotli-dev libhiredis-dev
      libpq-dev)
case "${1:-build}" in
  build) ;;
  test)  want+=(libcmocka-dev nodejs npm chromium curl sqlite3 python3-aiosmtpd openssl nginx-light
               redis-server clickhouse-server postgresql) ;;
  bench) want+=(wrk nginx-light curl sqlite3 postgresql openssl) ;;
  fuzz)  want+=(clang libclang-rt-14-dev) ;;
  *) echo "usage: $0 build|test|bench|fuzz" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  # A command that is already on PATH (node from another source, say) counts as present.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm)    command -v npm  >/dev/null 2>&1 && continue ;;
  esac
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
