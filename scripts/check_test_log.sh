#!/usr/bin/env bash
# Proves from CTest's log that every Catch2 test it ran really ran: no "No test cases
# matched" anywhere, and every passed test of a Catch2 executable reports at least one
# assertion. A test whose name CTest split or mangled would otherwise "pass" without
# running. Usage: check_test_log.sh [BUILD_DIR] (default: the current directory).
set -euo pipefail
log="${1:-.}/Testing/Temporary/LastTest.log"
[ -f "$log" ] || { echo "check_test_log: $log not found (run ctest first)" >&2; exit 1; }
awk '
  function finish() {
    if (name == "" || !catch_test || status != "passed") return
    if (assertions < 1) { printf "check_test_log: %s passed without running any assertion\n", name; bad++ }
    checked++
  }
  /^[0-9]+\/[0-9]+ Test: / { finish(); name = $0; sub(/^[0-9]+\/[0-9]+ Test: /, "", name)
                             catch_test = 0; status = ""; assertions = 0; next }
  /^Command: / { catch_test = ($0 ~ /^Command: "[^"]*\/(retention_tests|postgres_tests)"/) ; next }
  /No test cases matched/ { printf "check_test_log: %s: %s\n", name, $0; bad++ }
  /^All tests passed \(/ { n = $0; sub(/^All tests passed \(/, "", n); sub(/ .*/, "", n); assertions = n + 0 }
  /^Test Passed\./ { status = "passed" }
  END {
    finish()
    if (checked == 0) { print "check_test_log: no passed Catch2 test found in the log"; bad++ }
    if (bad) exit 1
    printf "check_test_log: %d Catch2 tests ran, each with at least one assertion\n", checked
  }
' "$log"
