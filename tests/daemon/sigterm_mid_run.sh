#!/usr/bin/env bash
# SIGTERM in the middle of a large run: the current batch finishes, the run is recorded
# as interrupted, the daemon exits 0, the data and the audit chain are consistent, and
# the next run finishes the work.
export R="$1" D="$2" SRC="$3"
source "$(dirname "$0")/lib.sh"
make_store 20000
make_config 'cron: "0 3 1 1 *"' 20
start_daemon d
wait_log '"event":"started"'
kill -USR1 "$DPID"
for ((i = 0; i < 300; i++)); do
  left=$(rows)
  [ "$left" -lt 20001 ] && break
  sleep 0.1
done
[ "$left" -lt 20001 ] || fail "the run did not start deleting"
kill -TERM "$DPID"
expect_exit "$DPID" 30
left=$(rows)
[ "$left" -gt 1 ] || skip "the run finished before SIGTERM arrived (machine too fast for 20000 rows)"
[ "$(sqlite3 state.db "SELECT status FROM runs ORDER BY id DESC LIMIT 1")" = interrupted ] || fail "not recorded as interrupted"
"$R" audit verify --config c.yaml > verify.log 2>&1 || fail "the audit chain does not verify"
# Every deleted row is in the audit: the batches' counts add up to what is gone.
audited=$(sqlite3 state.db "SELECT coalesce(sum(count), 0) FROM audit WHERE kind = 'batch'")
[ "$audited" = $((20001 - left)) ] || fail "audited $audited rows, deleted $((20001 - left))"
"$R" run --config c.yaml --policies "$P" > run.log 2>&1 || fail "the next run failed"
[ "$(rows)" = 1 ] || fail "the next run did not finish the work ($(rows) rows left)"
"$R" runs show 1 --config c.yaml --policies "$P" | grep -q interrupted || fail "runs show does not say interrupted"
echo PASS
