#!/usr/bin/env bash
# Two `retention run` processes share one PostgreSQL state database and four bindings by
# lease (docs/scaling.md); the first is killed (SIGKILL) in the middle of a binding. A
# later run, after the dead instance's lease has expired, finishes it. Checked: every due
# row deleted, every other row kept, each deleted key audited exactly once, the chain
# verifies, the killed binding was not taken over before its lease expired, and both
# instances did work.
# Arguments: the retention executable, the source tree. Skips (77) without
# RETENTION_TEST_PG (a server's libpq connection string) or psql.
set -uo pipefail
R="$1" SRC="$2"
[ -n "${RETENTION_TEST_PG:-}" ] || { echo "SKIPPED: RETENTION_TEST_PG is not set"; exit 77; }
command -v psql > /dev/null || { echo "SKIPPED: psql is not installed"; exit 77; }
command -v python3 > /dev/null || { echo "SKIPPED: python3 is not installed"; exit 77; }

work=$(mktemp -d)
schema="lease_$$_$RANDOM"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2> /dev/null; done
  psql -q "$RETENTION_TEST_PG" -c "DROP SCHEMA IF EXISTS $schema CASCADE; DROP SCHEMA IF EXISTS ${schema}_state CASCADE" \
    > /dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1
fail() {
  echo "FAIL: $1"
  for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 25 "$f"; }; done
  exit 1
}
sql() { psql -qAtX -v ON_ERROR_STOP=1 "$RETENTION_TEST_PG" -c "$1"; }

# Four tables of F01.droits: DUE rows ended in 2015 (due on 2025-03-01), 300 that end
# in 2030 and 30 without fin_droits (unknown: kept). Keys are distinct across tables.
DUE=12000
tables=(a b c d)
sql "CREATE SCHEMA $schema" || fail "cannot create the schema"
i=0
for t in "${tables[@]}"; do
  i=$((i + 1))
  sql "CREATE TABLE $schema.droits_$t (id bigint PRIMARY KEY, nir text, fin_droits date);
       INSERT INTO $schema.droits_$t SELECT $i * 1000000 + g, 'nir' || g, '2015-01-01' FROM generate_series(1, $DUE) g;
       INSERT INTO $schema.droits_$t SELECT $i * 1000000 + 500000 + g, 'keep' || g, '2030-01-01' FROM generate_series(1, 300) g;
       INSERT INTO $schema.droits_$t SELECT $i * 1000000 + 900000 + g, 'null' || g, NULL FROM generate_series(1, 30) g;" ||
    fail "cannot load droits_$t"
done

# The store's journal lands in the connection's schema, dropped with the test's data.
export LEASE_STORE_PG="$RETENTION_TEST_PG options=-csearch_path=$schema"
printf 'k3y-for-the-lease-test\n' > audit.key
chmod 600 audit.key
LEASE=4
{
  echo "state: {type: postgres, dsn_env: RETENTION_TEST_PG, schema: ${schema}_state, lease_seconds: $LEASE}"
  echo "audit_key: {file: audit.key}"
  echo "stores:"
  echo "  pg: {type: postgres, dsn_env: LEASE_STORE_PG}"
  echo "bindings:"
  for t in "${tables[@]}"; do
    cat <<YAML
  - rule: F01.droits
    name: droits_$t
    store: pg
    table: $schema.droits_$t
    key: id
    subject: nir
    facts: {fin_droits: fin_droits}
    batch_size: 10
    guard: {max_rows: 1000000, max_fraction: 1}
YAML
  done
} > c.yaml
P="$SRC/policies"
run() { "$R" run --config c.yaml --policies "$P" --as-of 2025-03-01 --log; }
left() { sql "SELECT count(*) FROM $schema.droits_$1 WHERE fin_droits < '2020-01-01'"; }

# Instance A starts alone; once it is inside a binding, B starts; A is killed mid-binding.
"$R" run --config c.yaml --policies "$P" --as-of 2025-03-01 --log > a.log 2>&1 &
A=$!  # the retention process itself: its pid is in its lease owner name
pids+=("$A")
held=""
for ((n = 0; n < 300; n++)); do
  # The binding A holds, once it has deleted some of its rows (one query per poll).
  # (A lease is named "binding (store: table)".)
  held=$(sql "SELECT split_part(binding, ' ', 1) FROM ${schema}_state.leases WHERE owner LIKE '%:$A:%' AND EXISTS
              (SELECT 1 FROM ${schema}_state.audit WHERE kind = 'batch' AND audit.binding = split_part(leases.binding, ' ', 1))" 2> /dev/null)
  [ -n "$held" ] && break
  kill -0 "$A" 2> /dev/null || fail "instance A ended before it could be killed"
  sleep 0.05
done
[ -n "$held" ] || fail "instance A never claimed a binding"
"$R" run --config c.yaml --policies "$P" --as-of 2025-03-01 --log > b.log 2>&1 &
B=$!
pids+=("$B")
sleep 0.3
held=$(sql "SELECT split_part(binding, ' ', 1) FROM ${schema}_state.leases WHERE owner LIKE '%:$A:%'")
[ -n "$held" ] || fail "instance A finished before it could be killed: raise DUE"
kill -KILL "$A"
wait "$A" 2> /dev/null
killed_at=$(sql "SELECT extract(epoch FROM expires_at) FROM ${schema}_state.leases WHERE split_part(binding, ' ', 1) = '$held'")
remaining=$(left "${held#droits_}")
[ "$remaining" -gt 0 ] || fail "A's binding $held had no due row left when A was killed"
wait "$B"
code=$?
[ "$code" = 0 ] || fail "instance B exited $code"
grep -q "Binding droits_.* (leased): run #[0-9]* done" b.log || fail "B ran no binding"
# B never took the killed binding before its lease expired.
sql "SELECT CASE WHEN count(*) = 0 THEN 'ok' END FROM ${schema}_state.runs r JOIN ${schema}_state.leases l
     ON l.run_id = r.id WHERE split_part(l.binding, ' ', 1) = '$held' AND extract(epoch FROM r.started_at::timestamptz) + 1 < $killed_at" |
  grep -qx ok || fail "the killed instance's binding was run again before its lease expired"

# Once the lease has expired, B (if it was still running) or a third run claims the killed
# binding, records A's interrupted batch (if any) and finishes it.
sleep $((LEASE + 1))
run > c.log 2>&1 || fail "the run after the lease expired failed"
cat b.log c.log | grep -q "Binding $held (leased): run #[0-9]* done" || fail "no run finished $held after A died"

for t in "${tables[@]}"; do
  [ "$(left "$t")" = 0 ] || fail "droits_$t still has $(left "$t") due rows"
  [ "$(sql "SELECT count(*) FROM $schema.droits_$t")" = 330 ] || fail "droits_$t lost rows that were not due"
done
[ "$(sql "SELECT count(*) FROM ${schema}_state.leases WHERE done_as_of = '2025-03-01' AND owner IS NULL")" = 4 ] ||
  fail "not every binding is recorded done"

# Every deleted key audited exactly once.
sql "SELECT binding, key_digests FROM ${schema}_state.audit WHERE kind = 'batch'" > digests.txt
python3 - "$DUE" digests.txt <<'PY' || fail "the audit does not hold each deleted key exactly once"
import json, sys
due, path = int(sys.argv[1]), sys.argv[2]
seen = {}
for line in open(path):
    binding, digests = line.rstrip("\n").split("|", 1)
    for d in json.loads(digests):
        seen.setdefault(binding, []).append(d)
ok = len(seen) == 4
for binding, ds in sorted(seen.items()):
    print(binding, len(ds), "digests,", len(set(ds)), "distinct")
    ok &= len(ds) == due and len(set(ds)) == due
sys.exit(0 if ok else 1)
PY
"$R" audit verify --config c.yaml > verify.log 2>&1 || fail "audit verify failed"
[ "$(sql "SELECT count(*) FROM $schema._retention_journal")" = 0 ] || fail "the store's journal was left with batches"

# A second deployment sharing the state schema by mistake, with the same binding names
# over other tables: its bindings are leased apart (a lease names the store and table),
# never taken for done because the first deployment's were.
sql "CREATE TABLE $schema.other_a (id bigint PRIMARY KEY, nir text, fin_droits date);
     INSERT INTO $schema.other_a SELECT g, 'nir' || g, '2015-01-01' FROM generate_series(1, 50) g;" ||
  fail "cannot load other_a"
mkdir second && cp audit.key second/
sed -n '1,/^bindings:/p' c.yaml > second/c.yaml
sed -n '/name: droits_a$/,/guard:/p' c.yaml | sed "s/$schema.droits_a/$schema.other_a/" | sed '1s/^/  - rule: F01.droits\n/' >> second/c.yaml
(cd second && "$R" run --config c.yaml --policies "$P" --as-of 2025-03-01 > run.log 2>&1) ||
  fail "the second deployment's run failed: $(cat second/run.log)"
grep -q "Binding droits_a (leased): run #[0-9]* done" second/run.log || fail "the second deployment ran nothing"
[ "$(sql "SELECT count(*) FROM $schema.other_a")" = 0 ] || fail "the second deployment's due rows were left"
echo PASS
