#!/usr/bin/env bash
# A PostgreSQL store that is down (nothing listens on its port): `retention run` exits 5
# and the SQLite binding still runs; `runs show` records the unavailable store.
export R="$1" D="$2" SRC="$3"
source "$(dirname "$0")/lib.sh"
make_store 4
make_config 'cron: "0 3 1 1 *"'
# A port nothing listens on: a stopped server.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2> /dev/null || echo 1)
cat >> c.yaml <<YAML
  - rule: F01.droits
    name: pg_droits
    store: pg
    table: droits
    key: id
    subject: nir
    facts: {fin_droits: fin_droits}
YAML
sed -i "s|^  main: {type: sqlite, path: main.db}|&\n  pg: {type: postgres, dsn_env: DOWN_DSN}|" c.yaml
export DOWN_DSN="host=127.0.0.1 port=$port dbname=none user=none connect_timeout=2"
"$R" run --config c.yaml --policies "$P" --log --metrics-file m.prom > run.log 2>&1
code=$?
[ "$code" = 5 ] || fail "exit code $code, expected 5 (run.log: $(cat run.log))"
grep -q "store 'pg' is unavailable" run.log || fail "the unavailable store is not named"
[ "$(rows)" = 1 ] || fail "the SQLite binding did not run ($(rows) rows left)"
grep -q '"event":"store_unavailable".*"store":"pg"' run.log || fail "no store_unavailable event"
grep -q 'DOWN_DSN\|port=' run.log && fail "the connection string is in the output"
grep -q '^retention_last_run_stores_unavailable 1$' m.prom || fail "the metrics file does not count the store"
grep -q 'retention_last_run_rows{binding="F01.droits",rule="F01.droits",action="delete"} 4' m.prom ||
  fail "the metrics file lacks the SQLite binding's rows"
"$R" runs show 1 --config c.yaml --policies "$P" --format json | grep -q '"unavailable_stores"' ||
  fail "the run does not record the unavailable store"
echo PASS
