#!/usr/bin/env bash
# retentiond shares the run's code path: a locked rule shortened is refused there too
# (run_failed with the lock's message, nothing deleted, no identifier in the log).
export R="$1" D="$2" SRC="$3"
source "$(dirname "$0")/lib.sh"
make_store 30
make_config 'cron: "0 3 1 1 *"'
"$R" policies lock --config c.yaml --policies "$P" --rule F01.droits --reason "durée validée" --author DPO > lock.log 2>&1 ||
  fail "policies lock: $(cat lock.log)"
cp -r "$P" shortened
sed -i 's/until: fin_droits + 3y/until: fin_droits + 1y/' shortened/01_gestion_des_droits/F01.yaml
grep -q 'fin_droits + 1y' shortened/01_gestion_des_droits/F01.yaml || fail "the policy was not edited"
POL="$work/shortened" start_daemon d
wait_log '"event":"started"'
kill -USR1 "$DPID"
wait_log '"event":"run_failed"'
grep -q '"event":"run_failed".*refused by a retention lock: rule F01.droits is locked' d.log || fail "not refused by the lock"
grep -q '31 record(s) would be acted on earlier' d.log || fail "the count of records moved earlier is not in the message"
[ "$(rows)" = 31 ] || fail "expected 31 rows kept, found $(rows)"
grep -q 'nir1\b\|"r1"' d.log && fail "a raw identifier is in the log"
kill -TERM "$DPID"
expect_exit "$DPID"
echo PASS
