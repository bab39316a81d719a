#!/usr/bin/env bash
# Builds everything with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/
# (-DRETENTION_SANITIZE=ON) and runs the whole test suite there, as scripts/test.sh does.
# Any sanitizer report fails the run, including one from a `retention` process a test
# started and whose exit code the test accepts: reports go to files, and any file fails.
# Usage: scripts/test-sanitizers.sh [ctest arguments]   (BUILD_DIR may be set)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export BUILD_DIR=${BUILD_DIR:-$root/build-asan}
export CMAKE_ARGS="-DRETENTION_SANITIZE=ON ${CMAKE_ARGS:-}"
logs="$BUILD_DIR/sanitizer-reports"
rm -rf "$logs"
mkdir -p "$logs"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1:log_path=$logs/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
export LSAN_OPTIONS="log_path=$logs/lsan"
# The differential tests decide the same rules on fewer records here (10,000, not 100,000):
# the sanitizers look at code paths, which the smaller table covers; the count is the
# release pass's job.
export RETENTION_TEST_RECORDS=${RETENTION_TEST_RECORDS:-10000}
status=0
"$root/scripts/test.sh" "$@" || status=$?
reports=("$logs"/*)
if [ -e "${reports[0]}" ]; then
  echo "test-sanitizers: ${#reports[@]} sanitizer report(s):" >&2
  for f in "${reports[@]}"; do
    echo "== $f" >&2
    head -n 60 "$f" >&2
  done
  exit 1
fi
exit "$status"
