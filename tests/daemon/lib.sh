# Helpers of the daemon tests, sourced by each test in a fresh directory.
# Environment: R (retention), D (retentiond), SRC (the source tree).
set -uo pipefail
P="$SRC/policies"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2> /dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1

skip() { echo "SKIPPED: $1"; exit 77; }
fail() {
  echo "FAIL: $1"
  for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
  exit 1
}
[ -x "$D" ] || skip "retentiond is not built (libcpp-httplib-dev missing)"
command -v sqlite3 > /dev/null || skip "the sqlite3 command is not installed"

# ./main.db with N rows of F01.droits due for deletion (fin_droits in 2015), plus one not due.
make_store() {
  printf 'k3y-for-daemon-tests\n' > audit.key
  chmod 600 audit.key
  sqlite3 main.db "CREATE TABLE droits (id TEXT PRIMARY KEY, nir TEXT, fin_droits TEXT);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
    INSERT INTO droits SELECT 'r' || i, 'nir' || i, '2015-01-01' FROM n;
    INSERT INTO droits VALUES ('keep', 'nirkeep', '2099-01-01');"
}

# ./c.yaml: the SQLite deployment of the hostile corpus (tests/hostile/inputs/base.yaml)
# with a schedule, a batch size and a guard that lets every row go;
# $1: the schedule line's content, $2: batch size.
make_config() {
  sed -e "s|^audit_key: .*|&\nschedule: {$1}|" \
    -e "s|^    guard: {max_rows: 100, |    batch_size: ${2:-500}\n    guard: {max_rows: 1000000, |" \
    "$SRC/tests/hostile/inputs/base.yaml" > c.yaml
  grep -q '^schedule: ' c.yaml && grep -q 'max_rows: 1000000' c.yaml ||
    fail "tests/hostile/inputs/base.yaml no longer has the lines make_config edits"
}

rows() { sqlite3 main.db "SELECT count(*) FROM droits"; }

# Starts retentiond in the background (log in ./$1.log); sets DPID.
start_daemon() {
  local name=$1
  shift
  "$D" --config c.yaml --policies "${POL:-$P}" --listen 127.0.0.1:0 "$@" 2> "$name.log" &
  DPID=$!
  pids+=("$DPID")
}

# Waits (up to $2 seconds, default 20) for a log line containing $1 in ./$3.log (default d).
wait_log() {
  local i
  for ((i = 0; i < ${2:-20} * 10; i++)); do
    grep -qF -- "$1" "${3:-d}.log" && return 0
    sleep 0.1
  done
  fail "no '$1' in ${3:-d}.log after ${2:-20} s"
}

# The port retentiond listens on (from its `listening` event).
daemon_port() { grep -o '"address":"127.0.0.1:[0-9]*"' "${1:-d}.log" | head -1 | grep -o '[0-9]*"$' | tr -d '"'; }

# GET http://127.0.0.1:PORT$2 with bash's /dev/tcp (no client needed); prints the body.
http_get() {
  exec 3<> "/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
  sed '1,/^\r$/d' <&3
  exec 3<&-
}

# Waits for a started process to exit (up to $2 s) and fails unless its exit code is $3 (default 0).
expect_exit() {
  local i code=timeout
  for ((i = 0; i < ${2:-20} * 10; i++)); do
    if ! kill -0 "$1" 2> /dev/null; then
      wait "$1"
      code=$?
      break
    fi
    sleep 0.1
  done
  [ "$code" = "${3:-0}" ] || fail "process $1 exited with $code, expected ${3:-0}"
}
