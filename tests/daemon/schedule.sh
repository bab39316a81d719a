#!/usr/bin/env bash
# The schedule: `* * * * *` fires at the next minute (at most 60 s away) and runs.
export R="$1" D="$2" SRC="$3"
source "$(dirname "$0")/lib.sh"
make_store 3
make_config 'cron: "* * * * *", catch_up: false'
start_daemon d
wait_log '"event":"started"'
grep -q '"next_run":"[0-9T:-]*Z"' d.log || fail "no next run time logged"
wait_log '"reason":"schedule"' 65
wait_log '"event":"run_end"' 20
[ "$(rows)" = 1 ] || fail "the scheduled run did not apply"
kill -TERM "$DPID"
expect_exit "$DPID"
echo PASS
