#!/usr/bin/env bash
# The benchmarks (docs/benchmarks.md): builds the engine in Release, generates the
# datasets, runs each figure against its hand-written baseline on identical copies of
# the same data, alternating engine and baseline, and prints the median of the runs.
#
# Usage: tests/bench/run.sh [--rows N] [--reps R] [--only NAME] [--keep]
#   --rows N    rows of the SQLite and PostgreSQL delete benchmarks (default 5000000)
#   --reps R    runs of each side, alternating (default 3; the median is reported)
#   --only NAME one benchmark: eval, report, fast, sqlite, archive, postgres, partition, leases
#   --keep      keep the work directory (printed)
# PostgreSQL: RETENTION_TEST_PG (a DSN), else a server is started on a loopback port
# with tests/postgres_server.sh when PostgreSQL is installed; otherwise that figure is
# skipped and named. Every engine deletion count is compared with the baseline's.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rows=5000000 reps=3 only="" keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$rows$reps" in *[!0-9]*) echo "bench: --rows and --reps take a number" >&2; exit 2 ;; esac

build=${BENCH_BUILD_DIR:-$root/build-bench}
echo "bench: building in Release ($build)" >&2
BUILD_DIR=$build BUILD_TYPE=Release CMAKE_ARGS="-DRETENTION_BUILD_TESTS=OFF" \
  BUILD_TARGETS="retention eval_bench" "$root/scripts/setup.sh" >&2
cli=$build/cli/retention
work=$(mktemp -d "${TMPDIR:-/tmp}/retention-bench.XXXXXX")
pg_started=""
cleanup() {
  [ -n "$pg_started" ] && RETENTION_TEST_PG_PORT=$pg_started "$root/tests/postgres_server.sh" stop >/dev/null 2>&1 || true
  if [ "$keep" = 1 ]; then echo "bench: work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
as_of=2026-11-23
results=$work/results.tsv
: > "$results"

want() { [ -z "$only" ] || [ "$only" = "$1" ]; }
# Elapsed seconds and peak RSS (KiB) of a command: "SECONDS KIB"; its output to $work/out.
measure() { /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/out" 2> "$work/err" || {
  echo "bench: failed: $*" >&2; cat "$work/err" >&2; exit 1; }; cat "$work/time"; }
median() { awk 'NF' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# figure, engine seconds (list), baseline seconds (list), engine peak RSS KiB (list), note
record() {
  local e b m
  e=$(tr ' ' '\n' <<< "$2" | median); b=$(tr ' ' '\n' <<< "$3" | median); m=$(tr ' ' '\n' <<< "$4" | sort -n | tail -1)
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$e" "$b" "$m" "$5" >> "$results"
}

# --- evaluations per second (one core, in one process) ---------------------------------
if want eval; then
  echo "bench: evaluations per second" >&2
  "$build/tests/bench/eval_bench" "$root/policies" 1000000 5 | tee "$work/eval.txt" >&2
fi

# --- the DPO's report vs the GROUP BY counting the same buckets -------------------------
if want report; then
  echo "bench: report on the demo (1,000,000 rows) vs GROUP BY" >&2
  (cd "$work" && "$cli" demo init --rows 1000000 > /dev/null)
  demo=$work/demo
  sed "s/@AS_OF@/$as_of/g" "$root/tests/bench/report_baseline.sql" > "$work/report_baseline.sql"
  te="" tb="" tm=""
  for _ in $(seq "$reps"); do
    read -r t m < <(measure "$cli" report --config "$demo/config.yaml" --as-of "$as_of" --format json --out "$work/report.json")
    te="$te $t" tm="$tm $m"
    read -r t _ < <(measure sh -c 'sqlite3 "$1/data/cpam.db" < "$2" &&
      find "$1/data/recordings" "$1/data/cctv" -type f -printf "%TY-%Tm\n" | sort | uniq -c' sh "$demo" "$work/report_baseline.sql")
    tb="$tb $t"
  done
  record "report, demo 1M rows (json) vs GROUP BY + find" "$te" "$tb" "$tm" "target <= 2x"
fi

# --- one table of N rows, 9% due: plan --fast, run, on SQLite -----------------------------
make_sqlite() {  # $1: database file; rows ids 1..N, fin_droits spread so that 9% are due, 0.1% NULL
  sqlite3 "$1" > /dev/null <<SQL
PRAGMA journal_mode = WAL;
CREATE TABLE droits (id INTEGER PRIMARY KEY, nir TEXT NOT NULL, fin_droits DATE);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO droits SELECT i, printf('1%012d', i),
  CASE WHEN (i * 7919) % 100 < 9 THEN date('2015-01-01', '+' || ((i * 104729) % 2500) || ' days')
       WHEN i % 1000 = 7 THEN NULL
       ELSE date('2023-12-01', '+' || ((i * 104729) % 3000) || ' days') END FROM n;
CREATE INDEX droits_fin_droits ON droits (fin_droits);
SQL
}
write_config() {  # $1: directory, $2: stores, [$3 rule, $4 table, $5 facts, $6 extra binding line]
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$1/audit.key"
  chmod 600 "$1/audit.key"
  cat > "$1/config.yaml" <<YAML
policies: $root/policies
state: state.db
audit_key: {file: audit.key}
stores:
  main: $2
bindings:
  - rule: ${3:-F01.droits}
    store: main
    table: ${4:-droits}
    key: id
    subject: nir
    facts: {${5:-fin_droits: fin_droits}}
    guard: {max_rows: 100000000, max_fraction: 0.2}  # on, and above the 9% due
    ${6:-}
YAML
}
due_sql="fin_droits < date('$as_of', '-3 years')"  # F01.droits: 3 years after the end of rights

if want fast || want sqlite; then
  echo "bench: SQLite, $rows rows, 9% due" >&2
  mkdir -p "$work/sqlite"
  make_sqlite "$work/sqlite/source.db"
fi
if want fast; then
  d=$work/sqlite/fast; mkdir -p "$d"; cp "$work/sqlite/source.db" "$d/main.db"
  write_config "$d" "{type: sqlite, path: main.db}"
  te="" tb="" tm=""
  for _ in $(seq "$reps"); do
    read -r t m < <(measure "$cli" plan --fast --config "$d/config.yaml" --as-of "$as_of" --format json)
    te="$te $t" tm="$tm $m"
    engine_counts=$(python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["bindings"][0]
print(b["due"]["delete"]["count"], (b["missing_facts"] or {}).get("fin_droits", "n/c"))' "$work/out")
    # The same two counts in SQL: due, and missing the date.
    read -r t _ < <(measure sqlite3 "$d/main.db" "SELECT (SELECT count(*) FROM droits WHERE $due_sql) || ' ' || (SELECT count(*) FROM droits WHERE fin_droits IS NULL)")
    tb="$tb $t"
    [ "$engine_counts" = "$(cat "$work/out")" ] || { echo "bench: plan --fast counts $engine_counts (due, missing), SQL $(cat "$work/out")" >&2; exit 1; }
  done
  record "plan --fast vs SELECT count(*) due + missing, SQLite $rows rows" "$te" "$tb" "$tm" "target <= 2x"
fi
if want sqlite; then
  te="" tb="" tm=""
  for i in $(seq "$reps"); do
    d=$work/sqlite/run$i; mkdir -p "$d"; cp "$work/sqlite/source.db" "$d/main.db"
    write_config "$d" "{type: sqlite, path: main.db}"
    read -r t m < <(measure "$cli" run --config "$d/config.yaml" --as-of "$as_of")
    te="$te $t" tm="$tm $m"
    engine_left=$(sqlite3 "$d/main.db" "SELECT count(*) FROM droits")
    b=$work/sqlite/base$i.db; cp "$work/sqlite/source.db" "$b"
    read -r t _ < <(measure sqlite3 "$b" "DELETE FROM droits WHERE $due_sql")
    tb="$tb $t"
    [ "$engine_left" = "$(sqlite3 "$b" "SELECT count(*) FROM droits")" ] || {
      echo "bench: the engine left $engine_left rows, the DELETE $(sqlite3 "$b" "SELECT count(*) FROM droits")" >&2; exit 1; }
    rm -rf "$d" "$b"
  done
  record "run vs DELETE, SQLite $rows rows, 9% due" "$te" "$tb" "$tm" "target <= 1.25x"
fi

# --- archive to a separate SQLite database: F05.prestations, 3 years then archived ---------
if want archive; then
  echo "bench: SQLite archive, $rows rows, 9% due for the archive" >&2
  mkdir -p "$work/archive"
  sqlite3 "$work/archive/source.db" > /dev/null <<SQL
PRAGMA journal_mode = WAL;
CREATE TABLE prestations (id INTEGER PRIMARY KEY, nir TEXT NOT NULL, date_versement DATE, montant REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO prestations SELECT i, printf('1%012d', i),
  CASE WHEN (i * 7919) % 100 < 9 THEN date('2014-01-01', '+' || ((i * 104729) % 3500) || ' days')
       ELSE date('2023-12-01', '+' || ((i * 104729) % 1000) || ' days') END, (i % 1000) / 10.0 FROM n;
CREATE INDEX prestations_versement ON prestations (date_versement);
SQL
  archive_sql="date_versement < date('$as_of', '-3 years')"
  te="" tb="" tm=""
  for i in $(seq "$reps"); do
    d=$work/archive/run$i; mkdir -p "$d"; cp "$work/archive/source.db" "$d/main.db"
    write_config "$d" "{type: sqlite, path: main.db}
  archive: {type: sqlite, path: archive.db}" F05.prestations prestations "date_versement: date_versement" \
      "archive: {store: archive, table: prestations}"
    read -r t m < <(measure "$cli" run --config "$d/config.yaml" --as-of "$as_of")
    te="$te $t" tm="$tm $m"
    engine_moved=$(sqlite3 "$d/archive.db" "SELECT count(*) FROM prestations")
    b=$work/archive/base$i; mkdir -p "$b"; cp "$work/archive/source.db" "$b/main.db"
    sqlite3 "$b/archive.db" "CREATE TABLE prestations (id INTEGER PRIMARY KEY, nir TEXT NOT NULL, date_versement DATE, montant REAL)"
    read -r t _ < <(measure sqlite3 "$b/main.db" "ATTACH '$b/archive.db' AS a; BEGIN;
      INSERT INTO a.prestations SELECT * FROM prestations WHERE $archive_sql;
      DELETE FROM prestations WHERE $archive_sql; COMMIT;")
    tb="$tb $t"
    [ "$engine_moved" = "$(sqlite3 "$b/archive.db" "SELECT count(*) FROM prestations")" ] || {
      echo "bench: the engine archived $engine_moved rows, the SQL another count" >&2; exit 1; }
    rm -rf "$d" "$b"
  done
  record "archive vs INSERT SELECT + DELETE, SQLite $rows rows" "$te" "$tb" "$tm" "target <= 1.3x"
fi

# The PostgreSQL server's DSN in $pg_dsn: RETENTION_TEST_PG, else one started once on a
# loopback port (stopped at exit); empty when there is none.
pg_dsn="" pg_tried=""
pg_server() {
  [ -n "$pg_tried" ] && return 0
  pg_tried=1 pg_dsn=${RETENTION_TEST_PG:-}
  if [ -z "$pg_dsn" ] && [ -x "$root/tests/postgres_server.sh" ]; then
    local port=${BENCH_PG_PORT:-55490}
    pg_dsn=$(RETENTION_TEST_PG_PORT=$port "$root/tests/postgres_server.sh" start 2>/dev/null) && pg_started=$port || pg_dsn=""
  fi
}

# A schema of its own for one figure ($1), dropped at its end: nothing of the database's is
# touched. Sets schema, and dsn with that schema as its search_path.
pg_schema() {
  schema=$1
  psql -q "$pg_dsn" -v ON_ERROR_STOP=1 -c "CREATE SCHEMA $schema"
  dsn="$pg_dsn options='-c search_path=$schema'"
}
# bench_source in that schema: $rows rows as make_sqlite writes them (9% due, 0.1% NULL).
pg_bench_source() {
  psql -q "$dsn" -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE bench_source AS SELECT i AS id, '1' || lpad(i::text, 12, '0') AS nir,
  CASE WHEN (i::bigint * 7919) % 100 < 9 THEN DATE '2015-01-01' + ((i::bigint * 104729) % 2500)::int
       WHEN i % 1000 = 7 THEN NULL
       ELSE DATE '2023-12-01' + ((i::bigint * 104729) % 3000)::int END AS fin_droits
  FROM generate_series(1, $rows) AS i;
SQL
}

# --- the same on PostgreSQL ------------------------------------------------------------------
if want postgres; then
  pg_server
  dsn=$pg_dsn
  if [ -z "$dsn" ]; then
    printf '%s\t\t\t\t%s\n' "run vs DELETE, PostgreSQL" "skipped: no PostgreSQL server" >> "$results"
  else
    echo "bench: PostgreSQL, $rows rows, 9% due" >&2
    pg_schema retention_bench_$$
    pg_bench_source
    copy_table() {  # $1: table name
      psql -q "$dsn" -v ON_ERROR_STOP=1 -c "DROP TABLE IF EXISTS $1" \
        -c "CREATE TABLE $1 (id bigint PRIMARY KEY, nir text NOT NULL, fin_droits date)" \
        -c "INSERT INTO $1 SELECT * FROM bench_source" -c "CREATE INDEX ON $1 (fin_droits)" -c "VACUUM ANALYZE $1"
    }
    te="" tb="" tm=""
    for i in $(seq "$reps"); do
      d=$work/pg$i; mkdir -p "$d"
      copy_table droits
      write_config "$d" "{type: postgres, dsn_env: RETENTION_BENCH_PG}"
      read -r t m < <(RETENTION_BENCH_PG=$dsn measure "$cli" run --config "$d/config.yaml" --as-of "$as_of")
      te="$te $t" tm="$tm $m"
      engine_left=$(psql -tA "$dsn" -c "SELECT count(*) FROM droits")
      copy_table droits
      read -r t _ < <(measure psql -q "$dsn" -c "DELETE FROM droits WHERE fin_droits < DATE '$as_of' - INTERVAL '3 years'")
      tb="$tb $t"
      [ "$engine_left" = "$(psql -tA "$dsn" -c "SELECT count(*) FROM droits")" ] || {
        echo "bench: PostgreSQL: the engine left $engine_left rows, the DELETE another count" >&2; exit 1; }
    done
    psql -q "$dsn" -c "DROP SCHEMA $schema CASCADE"
    record "run vs DELETE, PostgreSQL $rows rows, 9% due" "$te" "$tb" "$tm" "target <= 1.25x"
  fi
fi

# --- a wholly due partition: dropped whole vs deleted row by row (both by the engine) ----------
if want partition; then
  pg_server
  dsn=$pg_dsn
  if [ -z "$dsn" ]; then
    printf '%s\t\t\t\t%s\n' "partition drop vs row deletes, PostgreSQL" "skipped: no PostgreSQL server" >> "$results"
  else
    prows=${BENCH_PARTITION_ROWS:-1000000}
    echo "bench: PostgreSQL, a wholly due partition of $prows rows (+10% not due elsewhere)" >&2
    pg_schema retention_bench_part_$$
    psql -q "$dsn" -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE bench_source AS SELECT i AS id, '1' || lpad(i::text, 12, '0') AS nir,
  CASE WHEN i <= $prows THEN DATE '2015-01-01' + (i % 365) ELSE DATE '2025-01-01' + (i % 365) END AS fin_droits
  FROM generate_series(1, $prows + $prows / 10) AS i;
SQL
    make_tables() {  # droits: partitioned by year of fin_droits; flat: the same rows in one table
      psql -q "$dsn" -v ON_ERROR_STOP=1 -c "DROP TABLE IF EXISTS droits, flat" \
        -c "CREATE TABLE droits (id bigint NOT NULL, nir text NOT NULL, fin_droits date NOT NULL, PRIMARY KEY (id, fin_droits)) PARTITION BY RANGE (fin_droits)" \
        -c "CREATE TABLE droits_2015 PARTITION OF droits FOR VALUES FROM ('2015-01-01') TO ('2016-01-01')" \
        -c "CREATE TABLE droits_2025 PARTITION OF droits FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')" \
        -c "INSERT INTO droits SELECT * FROM bench_source" -c "CREATE INDEX ON droits (fin_droits)" \
        -c "CREATE TABLE flat (id bigint PRIMARY KEY, nir text NOT NULL, fin_droits date NOT NULL)" \
        -c "INSERT INTO flat SELECT * FROM bench_source" -c "CREATE INDEX ON flat (fin_droits)" -c "VACUUM ANALYZE droits, flat"
    }
    te="" tb="" tm=""
    for i in $(seq "$reps"); do
      make_tables
      d=$work/part$i; mkdir -p "$d/drop" "$d/rows"
      write_config "$d/drop" "{type: postgres, dsn_env: RETENTION_BENCH_PG}"
      write_config "$d/rows" "{type: postgres, dsn_env: RETENTION_BENCH_PG}" F01.droits flat
      read -r t m < <(RETENTION_BENCH_PG=$dsn measure "$cli" run --config "$d/drop/config.yaml" --as-of "$as_of" --allow-mass)
      te="$te $t" tm="$tm $m"
      grep -q "whole partitions dropped: 1" "$work/out" || { echo "bench: the partition was not dropped" >&2; cat "$work/out" >&2; exit 1; }
      read -r t _ < <(RETENTION_BENCH_PG=$dsn measure "$cli" run --config "$d/rows/config.yaml" --as-of "$as_of" --allow-mass)
      tb="$tb $t"
      left_drop=$(psql -tA "$dsn" -c "SELECT count(*) FROM droits") left_rows=$(psql -tA "$dsn" -c "SELECT count(*) FROM flat")
      [ "$left_drop" = "$left_rows" ] || { echo "bench: partition drop left $left_drop rows, row deletes $left_rows" >&2; exit 1; }
    done
    psql -q "$dsn" -c "DROP SCHEMA $schema CASCADE"
    record "partition drop vs row deletes, PG $prows-row partition" "$te" "$tb" "$tm" "target <= 0.05x (>= 20x faster)"
  fi
fi

# --- several instances by lease: two `retention run` at once vs one, PostgreSQL state ----------
if want leases; then
  pg_server
  dsn=$pg_dsn
  if [ -z "$dsn" ]; then
    printf '%s\t\t\t\t%s\n' "leases: 2 instances vs 1, PostgreSQL" "skipped: no PostgreSQL server" >> "$results"
  else
    echo "bench: PostgreSQL, $rows rows in 4 tables, 9% due, state on PostgreSQL, 2 instances vs 1" >&2
    pg_schema retention_bench_lease_$$
    pg_bench_source
    lease_tables() {  # droits_0..3: a quarter of the rows each; a fresh state schema
      for t in 0 1 2 3; do
        psql -q "$dsn" -v ON_ERROR_STOP=1 -c "DROP TABLE IF EXISTS droits_$t" \
          -c "CREATE TABLE droits_$t (id bigint PRIMARY KEY, nir text NOT NULL, fin_droits date)" \
          -c "INSERT INTO droits_$t SELECT * FROM bench_source WHERE id % 4 = $t" \
          -c "CREATE INDEX ON droits_$t (fin_droits)" -c "VACUUM ANALYZE droits_$t"
      done
      psql -q "$dsn" -c "DROP SCHEMA IF EXISTS ${schema}_state CASCADE"
    }
    lease_config() {  # $1: directory
      write_config "$1" "{type: postgres, dsn_env: RETENTION_BENCH_PG}" F01.droits droits_0
      sed -i "s|^state: state.db|state: {type: postgres, dsn_env: RETENTION_BENCH_PG, schema: ${schema}_state, lease_seconds: 300}|" "$1/config.yaml"
      sed -n '/^  - rule:/,$p' "$1/config.yaml" > "$1/binding"
      for t in 1 2 3; do sed "s/droits_0/droits_$t/; s/^  - rule: F01.droits/&\n    name: droits_$t/" "$1/binding" >> "$1/config.yaml"; done
    }
    te="" tb="" tm=""
    for i in $(seq "$reps"); do
      d=$work/lease$i; mkdir -p "$d/one" "$d/two"
      lease_config "$d/one"; lease_config "$d/two"
      lease_tables
      read -r t m < <(RETENTION_BENCH_PG=$dsn measure sh -c '"$1" run --config "$2" --as-of "$3" > "$4/a.out" &
        "$1" run --config "$2" --as-of "$3" > "$4/b.out"; b=$?; wait $! && exit $b' sh "$cli" "$d/two/config.yaml" "$as_of" "$d/two")
      te="$te $t" tm="$tm $m"
      left_two=$(psql -tA "$dsn" -c "SELECT (SELECT count(*) FROM droits_0) + (SELECT count(*) FROM droits_1) + (SELECT count(*) FROM droits_2) + (SELECT count(*) FROM droits_3)")
      grep -q "(leased)" "$d/two/a.out" && grep -q "(leased)" "$d/two/b.out" ||
        echo "bench: note: one of the two instances claimed no binding" >&2
      lease_tables
      read -r t _ < <(RETENTION_BENCH_PG=$dsn measure "$cli" run --config "$d/one/config.yaml" --as-of "$as_of")
      tb="$tb $t"
      left_one=$(psql -tA "$dsn" -c "SELECT (SELECT count(*) FROM droits_0) + (SELECT count(*) FROM droits_1) + (SELECT count(*) FROM droits_2) + (SELECT count(*) FROM droits_3)")
      [ "$left_two" = "$left_one" ] || { echo "bench: two instances left $left_two rows, one $left_one" >&2; exit 1; }
    done
    psql -q "$dsn" -c "DROP SCHEMA $schema CASCADE" -c "DROP SCHEMA IF EXISTS ${schema}_state CASCADE"
    record "leases: 2 instances vs 1, PG $rows rows in 4 tables" "$te" "$tb" "$tm" "scale-out, same host"
  fi
fi

# --- the table ---------------------------------------------------------------------------------
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"); reps: $reps (medians)"
[ -f "$work/eval.txt" ] && cat "$work/eval.txt" && echo
printf '%-52s %10s %10s %7s %12s  %s\n' figure engine baseline ratio "peak RSS" note
while IFS=$'\t' read -r fig e b m note; do
  if [ -z "$e" ]; then printf '%-52s %10s %10s %7s %12s  %s\n' "$fig" - - - - "$note"; continue; fi
  awk -v f="$fig" -v e="$e" -v b="$b" -v m="$m" -v n="$note" \
    'BEGIN { printf "%-52s %9.2fs %9.2fs %6.2fx %8.1f MiB  %s\n", f, e, b, (b > 0 ? e / b : 0), m / 1024, n }'
done < "$results"
