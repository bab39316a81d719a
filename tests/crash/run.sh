#!/usr/bin/env bash
# The crash harness: runs `retention run` on the demo deployment and interrupts it at
# random points (SIGKILL; a PostgreSQL backend terminated with pg_terminate_backend; a
# full filesystem under the archive), then checks after each interruption, again after
# `audit verify` (which records what the stores journaled), and after a rerun, that no
# record changed that was not due, that every due archived record is in its source or
# its archive (never neither; after the rerun never both), that no row is
# half-pseudonymised, that every change is audited and nothing audited that did not
# change, that `audit verify` passes, and that the rerun leaves the stores exactly as an
# uninterrupted run does (tests/crash/checker.cc). Prints one row per scenario:
# interruptions, how many fell between a store's commit and the audit's (in_window),
# and in how many each invariant was violated. docs/reliability.md, "Crash harness".
#
# Usage: tests/crash/run.sh [--kills N] [--short] [--rows N] [--seed N] [--build DIR] [--cli FILE] [--only S] [--keep]
#   --short   20 interruptions in all (CI); default 240
#   --cli     the retention executable to interrupt (default: BUILD/cli/retention)
#   --only    one scenario (sqlite-delete sqlite-archive sqlite-pseudo files postgres pg-terminate disk-full)
# PostgreSQL scenarios use RETENTION_TEST_PG (a libpq connection string; skipped when
# unset). The full-disk scenario mounts a small tmpfs (skipped where mount is refused).
# Exit: 0 no violation, 1 violations, 2 usage or setup error.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
kills=240
rows=6000
seed=$$
keep=0
cli=""
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) kills=$2; shift 2 ;;
    --short) kills=20; rows=3000; shift ;;
    --rows) rows=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --cli) cli=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--kills N] [--short] [--rows N] [--seed N] [--build DIR] [--cli FILE] [--only S] [--keep]" >&2; exit 2 ;;
  esac
done
cli=${cli:-$build/cli/retention}
checker=$build/tests/crash/crash_checker
for x in "$cli" "$checker"; do
  [ -x "$x" ] || { echo "crash harness: $x is not built" >&2; exit 2; }
done
RANDOM=$seed
today=2026-11-20
work=$(mktemp -d /tmp/retention-crash.XXXXXX)
cleanup() {
  mountpoint -q "$work/it/full" 2>/dev/null && umount "$work/it/full"
  [ "$keep" = 1 ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
# The programs are copied first: a rebuild while the harness runs (it takes minutes)
# would otherwise swap the engine between a kill and its rerun.
mkdir -p "$work/bin"
cp "$cli" "$work/bin/retention" && cp "$checker" "$work/bin/crash_checker"
cli=$work/bin/retention checker=$work/bin/crash_checker
pg=${RETENTION_TEST_PG:-}
# The engine's sessions are named, so that another session can terminate them; the
# journal table lands in the connection's schema, dropped with the scenario's data.
export RETENTION_CRASH_PG="$pg application_name=retention_crash options=-csearch_path=crash_src"

"$cli" demo init --dir "$work/template" --rows "$rows" --today "$today" --force >/dev/null || exit 2
policies=$(sed -n 's/^policies: //p' "$work/template/config.yaml")

# --- configurations -------------------------------------------------------------
header() {
  printf 'policies: %s\nstate: state/retention.db\naudit_key: {file: keys/audit.key}\nstores:\n' "$policies"
}
sql_binding() {  # rule store table facts [extra]
  printf '  - rule: %s\n    store: %s\n    table: %s\n    key: id\n    subject: nir\n    facts: %s\n    batch_size: 5\n' \
    "$1" "$2" "$3" "$4"
  [ -n "${5:-}" ] && printf '    %s\n' "$5"
  return 0
}
pseudo='pseudonymise: {columns: [nir], nullify: [nom, telephone], marker: pseudonymise_le, key_file: keys/pseudonymisation.key}'
write_configs() {
  local t=$work/template
  { header; echo "  cpam: {type: sqlite, path: data/cpam.db}"; echo "bindings:"
    sql_binding F37.messagerie cpam messages_ameli '{collecte: envoye_le}'
    sql_binding F01.droits cpam immatriculations '{fin_droits: fin_droits}'; } >"$t/sqlite-delete.yaml"
  { header; echo "  cpam: {type: sqlite, path: data/cpam.db}"; echo "  archive: {type: sqlite, path: ${1:-data}/archive.db}"
    echo "bindings:"
    sql_binding F05.prestations cpam prestations_invalidite '{date_versement: date_versement}' \
      'archive: {store: archive, table: prestations_invalidite}'
    sql_binding F10.prestations cpam prestations_at_mp '{date_versement: date_versement}' \
      'archive: {store: archive, table: prestations_at_mp}'; } >"$t/sqlite-archive.yaml"
  sed "s#data/archive.db#full/archive.db#" "$t/sqlite-archive.yaml" >"$t/disk-full.yaml"
  { header; echo "  cpam: {type: sqlite, path: data/cpam.db}"; echo "bindings:"
    sql_binding F55.accompagnement cpam accompagnements '{cloture: cloture}' "$pseudo"; } >"$t/sqlite-pseudo.yaml"
  { header; echo "  recordings: {type: files, directory: data/recordings}"; echo "  cctv: {type: files, directory: data/cctv}"
    echo "bindings:"
    printf '  - rule: F33.appels_enregistres\n    store: recordings\n    glob: "*.wav"\n    batch_size: 5\n'
    printf '    facts: {collecte: {filename: "appel_(\\\\d{8})_"}, exploitation: {filename: "_exploite\\\\.wav$"}}\n'
    printf '  - rule: F86.videosurveillance\n    store: cctv\n    glob: "*.mp4"\n    batch_size: 5\n    facts: {collecte: {mtime: true}}\n'
  } >"$t/files.yaml"
  { header; echo "  pg: {type: postgres, dsn_env: RETENTION_CRASH_PG}"; echo "  pgarchive: {type: postgres, dsn_env: RETENTION_CRASH_PG}"
    echo "bindings:"
    sql_binding F37.messagerie pg crash_src.messages_ameli '{collecte: envoye_le}'
    sql_binding F05.prestations pg crash_src.prestations_invalidite '{date_versement: date_versement}' \
      'archive: {store: pgarchive, table: crash_arc.prestations_invalidite}'
    sql_binding F55.accompagnement pg crash_src.accompagnements '{cloture: cloture}' "$pseudo"; } >"$t/postgres.yaml"
  cp "$t/postgres.yaml" "$t/pg-terminate.yaml"
}
write_configs

# --- PostgreSQL data: the demo's tables, copied once, cloned for each iteration ---
pg_tables="messages_ameli prestations_invalidite accompagnements"
export PGOPTIONS="-c client_min_messages=warning"  # for psql only: the engine's DSN sets its own options
pgq() { psql "$pg" -X -q -v ON_ERROR_STOP=1 "$@" >/dev/null; }
pg_template() {
  pgq <<'SQL' || return 1
DROP SCHEMA IF EXISTS crash_tpl CASCADE; CREATE SCHEMA crash_tpl;
CREATE TABLE crash_tpl.messages_ameli (id bigint PRIMARY KEY, nir text NOT NULL, objet text, envoye_le timestamp);
CREATE TABLE crash_tpl.prestations_invalidite (id bigint PRIMARY KEY, nir text NOT NULL, date_versement date, montant double precision);
CREATE TABLE crash_tpl.accompagnements (id bigint PRIMARY KEY, nir text, nom text, telephone text, cloture date, pseudonymise_le date);
SQL
  for t in $pg_tables; do
    sqlite3 -csv "$work/template/data/cpam.db" "SELECT * FROM $t" | pgq -c "\\copy crash_tpl.$t FROM STDIN CSV" || return 1
  done
}
pg_reset() {
  local sql="DROP SCHEMA IF EXISTS crash_src CASCADE; DROP SCHEMA IF EXISTS crash_arc CASCADE; CREATE SCHEMA crash_src; CREATE SCHEMA crash_arc;"
  for t in $pg_tables; do
    sql+=" CREATE TABLE crash_src.$t (LIKE crash_tpl.$t INCLUDING ALL); INSERT INTO crash_src.$t SELECT * FROM crash_tpl.$t;"
  done
  pgq -c "$sql"
}

# --- one iteration ----------------------------------------------------------------
can_mount=0
if mkdir -p "$work/probe" && mount -t tmpfs -o size=64k tmpfs "$work/probe" 2>/dev/null; then
  umount "$work/probe" && can_mount=1
fi
setup() {  # scenario [tmpfs size in KiB]
  mountpoint -q "$work/it/full" 2>/dev/null && umount "$work/it/full"
  rm -rf "$work/it" && cp -a "$work/template" "$work/it" || return 1
  case "$1" in
    postgres|pg-terminate) pg_reset ;;
    disk-full) mkdir -p "$work/it/full" && mount -t tmpfs -o "size=${2}k,mode=0700" tmpfs "$work/it/full" ;;
  esac
}
config() { echo "$work/it/$1.yaml"; }
# exec: in the background, $! is then the engine's own process (the one to kill).
run_retention() { (exec "$cli" run --config "$1" --as-of "$today" --allow-mass >>"$work/run.log" 2>&1); }
start_retention() { exec "$cli" run --config "$1" --as-of "$today" --allow-mass >>"$work/run.log" 2>&1; }
now_ms() { date +%s%3N; }

# The uninterrupted run: what is due before it, what it leaves, and how long it takes.
reference() {  # scenario
  local s=$1 c
  setup "$s" 65536 || return 1
  c=$(config "$s")
  "$checker" snapshot "$c" "$today" "$work/$s.before.json" || return 1
  local t0; t0=$(now_ms)
  run_retention "$c" || { echo "crash harness: the uninterrupted $s run failed:" >&2; tail -n 3 "$work/run.log" >&2; return 1; }
  echo $(( $(now_ms) - t0 )) >"$work/$s.ms"
  "$checker" snapshot "$c" "$today" "$work/$s.clean.json" || return 1
  [ "$s" = disk-full ] && du -k "$work/it/full/archive.db" | cut -f1 >"$work/$s.kib"
  return 0
}

declare -A count violated
add() { violated[$1,$2]=$(( ${violated[$1,$2]:-0} + 1 )); }
# Adds the invariants a `check` output line names as violated, once per iteration.
note() {  # scenario line...
  local s=$1; shift
  local line=$*
  for pair in ${line#violations }; do
    local name=${pair%=*} n=${pair#*=}
    if [ "$name" = in_window ]; then
      [ "$n" -gt 0 ] && count[$s,window]=$(( ${count[$s,window]:-0} + 1 ))
      continue
    fi
    if [ "$n" -gt 0 ] && [ -z "${seen[$name]:-}" ]; then seen[$name]=1; add "$s" "$name"; fi
  done
  return 0
}

# A check that could not run stops the harness: it must never count as a pass.
checked() {  # scenario line
  case "$2" in
    violations*) note "$1" "$2" ;;
    *) echo "crash harness: the checker failed on $1 (kept in $work)" >&2; keep=1; return 1 ;;
  esac
}

interrupt() {  # scenario
  local s=$1 c ms pid rc
  c=$(config "$s")
  ms=$(cat "$work/$s.ms")
  # Uniform over the run, past its first fifth (loading the policies, opening stores).
  local delay=$(( ms / 5 + RANDOM * RANDOM % (ms * 4 / 5 > 1 ? ms * 4 / 5 : 1) ))
  case "$s" in
    disk-full) run_retention "$c"; rc=$? ;;
    pg-terminate)
      start_retention "$c" & pid=$!
      sleep "$(awk -v ms="$delay" 'BEGIN { printf "%.3f", ms / 1000 }')"
      psql "$pg" -X -q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'retention_crash'" >/dev/null
      { wait "$pid"; } 2>/dev/null; rc=$? ;;
    *)
      start_retention "$c" & pid=$!
      sleep "$(awk -v ms="$delay" 'BEGIN { printf "%.3f", ms / 1000 }')"
      kill -KILL "$pid" 2>/dev/null
      { wait "$pid"; } 2>/dev/null; rc=$? ;;
  esac
  [ "$rc" -ne 0 ] && count[$s,hit]=$(( ${count[$s,hit]:-0} + 1 ))
  return 0
}

iteration() {  # scenario
  local s=$1 c out
  local -A seen=()
  local size=1024
  [ "$s" = disk-full ] && size=$(( ($(cat "$work/$s.kib") * (20 + RANDOM % 60) / 100) + 8 ))
  setup "$s" "$size" || { echo "crash harness: setup of $s failed" >&2; return 1; }
  c=$(config "$s")
  interrupt "$s"
  if [ "$s" = disk-full ]; then  # room again: move the archive off the small filesystem
    cp -a "$work/it/full" "$work/it/full.saved" && umount "$work/it/full" && rmdir "$work/it/full" &&
      mv "$work/it/full.saved" "$work/it/full"
  fi
  # Right after: every invariant but audit completeness (the next run or `audit verify`
  # records what the stores journaled); a change not yet audited counts as in_window.
  out=$("$checker" check "$c" "$work/$s.before.json" --in-window | tee -a "$work/violations.log" | tail -n1)
  checked "$s" "$out" || return 1
  "$cli" audit verify --config "$c" >>"$work/run.log" 2>&1 || add "$s" audit_verify
  out=$("$checker" check "$c" "$work/$s.before.json" | tee -a "$work/violations.log" | tail -n1)
  checked "$s" "$out" || return 1
  run_retention "$c" || add "$s" rerun_failed
  out=$("$checker" check "$c" "$work/$s.before.json" --final "$work/$s.clean.json" | tee -a "$work/violations.log" | tail -n1)
  checked "$s" "$out" || return 1
  "$cli" audit verify --config "$c" >>"$work/run.log" 2>&1 || [ -n "${seen[audit_verify]:-}" ] || add "$s" audit_verify
  count[$s,n]=$(( ${count[$s,n]:-0} + 1 ))
}

scenarios="sqlite-delete sqlite-archive sqlite-pseudo files"
skipped=""
if [ -n "$pg" ] && command -v psql >/dev/null && pg_template; then
  scenarios+=" postgres pg-terminate"
else
  skipped+=" postgres pg-terminate (no RETENTION_TEST_PG)"
fi
if [ "$can_mount" = 1 ]; then scenarios+=" disk-full"; else skipped+=" disk-full (mount refused)"; fi

[ -n "$only" ] && scenarios=$only
set -- $scenarios
per=$(( (kills + $# - 1) / $# ))
for s in $scenarios; do
  reference "$s" || exit 2
  for ((i = 0; i < per; i++)); do iteration "$s" || exit 2; done
done

invariants="changed_not_due archive_lost archived_twice half_pseudonymised unaudited audited_not_changed audit_verify rerun_failed rerun_differs"
printf '%-15s %6s %11s %9s' scenario runs interrupted in_window
for v in $invariants; do printf ' %s' "$v"; done
echo
total=0 runs=0 hits=0
for s in $scenarios; do
  printf '%-15s %6d %11d %9d' "$s" "${count[$s,n]:-0}" "${count[$s,hit]:-0}" "${count[$s,window]:-0}"
  runs=$(( runs + ${count[$s,n]:-0} ))
  hits=$(( hits + ${count[$s,hit]:-0} ))
  for v in $invariants; do
    n=${violated[$s,$v]:-0}
    printf " %${#v}d" "$n"
    total=$(( total + n ))
  done
  echo
done
[ -n "$skipped" ] && echo "skipped:$skipped"
echo "$runs runs, $hits interrupted before their end (seed $seed), $total violations"
[ "$total" -eq 0 ]
