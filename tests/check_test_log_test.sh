#!/usr/bin/env bash
# scripts/check_test_log.sh on hand-written CTest logs: it passes a log where every
# Catch2 test asserted, and fails one with an unmatched name or an assertion-free pass.
set -uo pipefail
check="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/Testing/Temporary"
entry() {  # NAME OUTPUT_LINE
  printf '1/2 Testing: %s\n1/2 Test: %s\nCommand: "/b/tests/retention_tests" "%s"\nOutput:\n' "$1" "$1" "$1"
  printf -- '----------\n%s\n<end of output>\nTest time =   0.01 sec\n----------\nTest Passed.\n\n' "$2"
}
fail=0
expect() {  # WANTED_EXIT DESCRIPTION
  "$check" "$dir" > "$dir/out" 2>&1
  code=$?
  if [ "$code" != "$1" ]; then echo "FAIL ($2): exit $code, wanted $1"; cat "$dir/out"; fail=1; fi
}
entry "a" "All tests passed (3 assertions in 1 test case)" > "$dir/Testing/Temporary/LastTest.log"
expect 0 "every test asserted"
entry "b" "All tests passed (1 assertion in 1 test case)" >> "$dir/Testing/Temporary/LastTest.log"
expect 0 "one assertion is enough"
{ entry "a" "All tests passed (3 assertions in 1 test case)"
  entry "c" "No test cases matched 'c'"; } > "$dir/Testing/Temporary/LastTest.log"
expect 1 "a name that matched nothing"
{ entry "a" "All tests passed (3 assertions in 1 test case)"
  entry "d" "All tests passed (0 assertions in 1 test case)"; } > "$dir/Testing/Temporary/LastTest.log"
expect 1 "a test without assertions"
: > "$dir/Testing/Temporary/LastTest.log"
expect 1 "an empty log"
exit $fail
