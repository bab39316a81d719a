#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang into build-fuzz/ and runs each for a
# short time from its committed seed corpus (plus the shipped policies and configurations).
# Any crash, sanitizer report, leak or timeout fails; the input is left in build-fuzz/crashes/.
# Usage: scripts/fuzz-smoke.sh [seconds per target, default 30]   (BUILD_DIR may be set)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
targets=(policy expression deployment facts)
export BUILD_DIR=${BUILD_DIR:-$root/build-fuzz}
export CMAKE_ARGS="-DCMAKE_CXX_COMPILER=clang++ -DRETENTION_BUILD_FUZZERS=ON -DRETENTION_BUILD_TESTS=OFF ${CMAKE_ARGS:-}"
BUILD_TARGETS="${targets[*]/%/_fuzzer}" "$root/scripts/setup.sh"

# Seeds beyond the committed corpus: the shipped policies and the documented configurations.
extra_seeds() {
  case "$1" in
    policy) echo "$root/policies" ;;
    deployment) echo "$root/examples/cpam" ;;
  esac
}

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
crashes="$BUILD_DIR/crashes"
mkdir -p "$crashes"
failed=()
for t in "${targets[@]}"; do
  found="$BUILD_DIR/corpus/$t"  # what this run adds; the committed seeds stay untouched
  mkdir -p "$found"
  # shellcheck disable=SC2046 # extra_seeds prints zero or one directory
  if ! "$BUILD_DIR/tests/fuzz/${t}_fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=16384 -print_final_stats=1 -artifact_prefix="$crashes/$t-" \
      "$found" "$root/tests/fuzz/corpus/$t" $(extra_seeds "$t") >"$BUILD_DIR/$t.log" 2>&1; then
    failed+=("$t")
    echo "fuzz-smoke: $t failed; the input is in $crashes/, the log in $BUILD_DIR/$t.log:" >&2
    grep -E "ERROR|SUMMARY|property failed|Test unit written" "$BUILD_DIR/$t.log" | head -n 20 >&2
  else
    echo "fuzz-smoke: $t: $(grep -E '^stat::number_of_executed_units' "$BUILD_DIR/$t.log" | awk '{print $2}') runs in ${seconds}s, no crash"
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz-smoke: crashed: ${failed[*]}" >&2; exit 1; }
