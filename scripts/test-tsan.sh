#!/usr/bin/env bash
# ThreadSanitizer on what a library user shares between threads (docs/library.md,
# "Threads"): builds the engine with -fsanitize=thread into build-tsan/ (the engine only,
# no executables) and runs tests/threads_test.cc there: four threads evaluating every
# shipped rule on one PolicySet. Any data race report fails.
# Usage: scripts/test-tsan.sh   (BUILD_DIR may be set)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-tsan}
export BUILD_DIR=$build BUILD_TARGETS=retention_engine
export CMAKE_ARGS="-DRETENTION_BUILD_CLI=OFF -DRETENTION_BUILD_TESTS=OFF -DRETENTION_INSTALL=OFF -DCMAKE_CXX_FLAGS=-fsanitize=thread ${CMAKE_ARGS:-}"
"$root/scripts/setup.sh"
g++ -std=c++20 -O1 -g -fsanitize=thread -o "$build/threads_test" "$root/tests/threads_test.cc" \
  -I"$root/engine/include" -I"$build/engine/include" \
  "$build/engine/libretention_engine.a" "$build/engine/libretention_sqlite_handle.a" \
  -lyaml-cpp -lfmt -lcrypto -lsqlite3 -pthread
TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$build/threads_test" "$root/policies"
