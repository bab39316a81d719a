#!/usr/bin/env bash
# Runs one hostile-input case of cases.tsv in a fresh directory holding a copy of
# inputs/, and checks its exit code and message: never a crash (134, 139), never a hang.
#   run_case.sh RETENTION_EXECUTABLE SOURCE_DIR CASE_NAME
set -uo pipefail
export R="$1" SRC="$2"
name="$3"
here="$SRC/tests/hostile"
line=$(awk -F'\t' -v n="$name" '$1 == n' "$here/cases.tsv")
[ -n "$line" ] || { echo "no case '$name' in cases.tsv"; exit 1; }
IFS=$'\t' read -r _ want_code want_text refused command <<< "$line"
if grep -qE 'droits|applied_run|sqlite3' <<< "$command" && ! command -v sqlite3 > /dev/null; then
  echo "SKIPPED: the sqlite3 command is not installed"
  exit 77
fi
if grep -q mkfifo <<< "$command" && ! command -v mkfifo > /dev/null; then echo "SKIPPED: no mkfifo"; exit 77; fi
work=$(mktemp -d)
trap 'chmod -R u+rwx "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$here/inputs/." "$work/"
cd "$work"
out=$(timeout 60 bash -c "source '$here/lib.sh'; $command" 2>&1)
code=$?
printf '%s\n' "$out" | head -c 4000
echo "--- exit code $code"
status=0
if [ "$code" != "$want_code" ]; then echo "FAIL: expected exit code $want_code"; status=1; fi
if ! grep -qF -- "$want_text" <<< "$out"; then echo "FAIL: expected the message to contain: $want_text"; status=1; fi
if [ "$refused" != "-" ] && grep -qF -- "$refused" <<< "$out"; then
  echo "FAIL: the output must not contain: $refused"; status=1
fi
exit $status
