#!/usr/bin/env bash
# SIGUSR1 starts a run now; /metrics and /healthz report it; SIGTERM stops the daemon (0).
export R="$1" D="$2" SRC="$3"
source "$(dirname "$0")/lib.sh"
make_store 30
make_config 'cron: "0 3 1 1 *"'
start_daemon d
wait_log '"event":"started"'
port=$(daemon_port)
[ -n "$port" ] || fail "no port in the log"
http_get "$port" /metrics | grep -q 'retention_runs_total{outcome="done"} 0' || fail "metrics before any run"
kill -USR1 "$DPID"
wait_log '"event":"run_end"'
grep -q '"event":"run_end".*"status":"done"' d.log || fail "the run did not end done"
[ "$(rows)" = 1 ] || fail "expected 1 row left (not due), found $(rows)"
metrics=$(http_get "$port" /metrics)
echo "$metrics" | grep -q 'retention_runs_total{outcome="done"} 1' || fail "runs_total done is not 1"
echo "$metrics" | grep -q 'retention_last_run_rows{binding="F01.droits",rule="F01.droits",action="delete"} 30' ||
  fail "rows per binding, rule and action"
echo "$metrics" | grep -q 'retention_rows_applied_total{rule="F01.droits",action="delete"} 30' || fail "rows applied total"
echo "$metrics" | grep -Eq '^retention_last_success_timestamp_seconds [1-9][0-9]+' || fail "last success time"
http_get "$port" /healthz | grep -q '"status":"ok"' || fail "/healthz"
grep -q 'nir1\b\|"r1"' d.log && fail "a raw identifier is in the log"
"$R" runs list --config c.yaml --policies "$P" | grep -q 'done' || fail "runs list does not show the run"
kill -TERM "$DPID"
expect_exit "$DPID"
echo PASS
