#!/usr/bin/env bash
# A second daemon on the same state database refuses to start (exit 4).
export R="$1" D="$2" SRC="$3"
source "$(dirname "$0")/lib.sh"
make_store 1
make_config 'cron: "0 3 1 1 *"'
start_daemon d
wait_log '"event":"started"'
timeout 20 "$D" --config c.yaml --policies "$P" --listen none 2> second.log
code=$?
[ "$code" = 4 ] || fail "the second daemon exited $code, expected 4"
grep -q already_running second.log || fail "no already_running event"
kill -0 "$DPID" || fail "the first daemon died"
kill -INT "$DPID"
expect_exit "$DPID"
echo PASS
