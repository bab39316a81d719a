#!/usr/bin/env bash
# SIGHUP with a broken policy: the reload is rejected with the located error, the old
# policies are kept and the daemon still runs.
export R="$1" D="$2" SRC="$3"
source "$(dirname "$0")/lib.sh"
make_store 5
make_config 'cron: "0 3 1 1 *"'
cp -r "$P" pol
POL=pol start_daemon d
wait_log '"event":"started"'
f=$(echo pol/01_*/F01.yaml)
printf 'id: [unclosed\n' >> "$f"
kill -HUP "$DPID"
wait_log '"event":"reload_rejected"'
grep -q "F01.yaml:[0-9]" d.log || fail "the located diagnostic is not logged"
kill -0 "$DPID" || fail "the daemon died"
kill -USR1 "$DPID"
wait_log '"event":"run_end"'
[ "$(rows)" = 1 ] || fail "the run with the old policies did not apply"
kill -TERM "$DPID"
expect_exit "$DPID"
echo PASS
