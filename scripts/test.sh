#!/usr/bin/env bash
# Builds, starts a throwaway PostgreSQL server on 127.0.0.1 for the connector tests,
# and runs every test with CTest. Tests whose prerequisite is missing are reported as
# skipped, never passed. Then checks that every Catch2 test really ran.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
"$root/scripts/setup.sh"
if [ -z "${RETENTION_TEST_PG:-}" ] && pg=$("$root/tests/postgres_server.sh" start); then
  export RETENTION_TEST_PG="$pg"
  trap '"$root/tests/postgres_server.sh" stop' EXIT
fi
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
# Every Catch2 test that passed ran at least one assertion; no name matched nothing.
"$root/scripts/check_test_log.sh" "$build"
