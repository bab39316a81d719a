#!/usr/bin/env bash
# The engine as an installed library (docs/library.md), tried as a new user would:
#  1. `cmake --install` of the build into a temporary prefix;
#  2. examples/embed and examples/custom_connector copied out of the source tree and
#     built against that prefix with find_package(retention) only, then run;
#  3. examples/embed built again with pkg-config alone (no CMake), and run;
#  4. a parent project that add_subdirectory()s the source tree: configured without the
#     executables, its cache keeps its own (empty) build type.
# Usage: run.sh SOURCE_DIR BUILD_DIR RETENTION_CLI [plain|sanitized]
set -euo pipefail
src=$1 build=$2 cli=$3
if [ "${4:-plain}" = sanitized ]; then
  echo "skipped: a sanitizer build's libraries need the sanitizer runtime to link (the normal pass runs this test)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
prefix=$work/prefix
for f in lib/cmake/retention/retentionConfig.cmake lib/cmake/retention/retentionConfigVersion.cmake \
         lib/pkgconfig/retention.pc include/retention/open.h include/retention/version.h \
         include/retention/connectors.h share/retention/policies/facts.yaml; do
  [ -f "$prefix/$f" ] || fail "not installed: $f"
done
# Plumbing stays private.
for f in sql.h sql_connector.h; do [ ! -e "$prefix/include/retention/$f" ] || fail "private header installed: $f"; done

build_example() {  # copies the example out of the tree, builds it with find_package only
  cp -r "$src/examples/$1" "$work/$1"
  cmake -S "$work/$1" -B "$work/$1/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    > "$work/$1.configure.log" 2>&1 || { cat "$work/$1.configure.log"; fail "configure $1"; }
  cmake --build "$work/$1/build" > "$work/$1.build.log" 2>&1 || { cat "$work/$1.build.log"; fail "build $1"; }
}

# What the CLI says for the same facts: embed must store the same date.
expected_delete() {
  "$cli" explain --rule F02.droits "$@" --format json |
    python3 -c 'import json,sys; t=json.load(sys.stdin)["timeline"]; print([e["from"] for e in t if e["action"]=="delete"][0])'
}

check_embed() {  # $1: the embed executable
  local e=$1 db=$work/embed-$RANDOM.db out want
  out=$("$e" "$db" insert 1 fin_droits=2020-01-31 contentieux=false)
  want=$(expected_delete --fact fin_droits=2020-01-31 --fact contentieux=false)
  [ "$out" = "1: purge_after $want" ] || fail "embed insert: '$out', expected purge_after $want"
  out=$("$e" "$db" insert 2 fin_droits=2020-01-31)  # litigation unknown: never a date
  [[ "$out" == "2: purge_after NULL (missing_fact contentieux)" ]] || fail "embed unknown fact: '$out'"
  if "$e" "$db" insert 3 fin_droit=2020-01-31 2> "$work/err"; then fail "a misspelt fact was stored"; fi
  grep -q "unknown fact 'fin_droit'" "$work/err" || fail "embed: no error for a misspelt fact"
  if "$e" "$db" insert 4 fin_droits=true 2> "$work/err"; then fail "a flag was stored as a date"; fi
  out=$("$e" "$db" recompute)
  [[ "$out" == "recomputed 2 record(s) under sha256:"* ]] || fail "embed recompute: '$out'"
  out=$("$e" "$db" list | tr '\n' ' ')
  [ "$out" = "1 $want 2 NULL " ] || fail "embed list: '$out'"
}

build_example embed
check_embed "$work/embed/build/embed"
echo "find_package: embed built and ran"

build_example custom_connector
cc=$work/custom_connector
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$cc/audit.key")
out=$(cd "$cc" && ./build/custom_connector config.yaml plan 2026-11-22)
echo "$out" | grep -q "F01.droits" || fail "custom_connector plan: $out"
(cd "$cc" && ./build/custom_connector config.yaml run 2026-11-22 > "$work/run.log") || { cat "$work/run.log"; fail "custom_connector run"; }
# Records 1 and 2 were due (3 years after 2019-06-30 and 2023-11-21); 3 has no date: kept.
kept=$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["id"] for l in open(sys.argv[1]) if l.strip()))' "$cc/data/droits.jsonl")
[ "$kept" = "3" ] || fail "custom_connector run kept '$kept', expected '3'"
echo "find_package: custom_connector built, bound a jsonl store and ran"

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
mkdir -p "$work/pc"
# shellcheck disable=SC2046 # pkg-config prints several flags
g++ -O1 -o "$work/pc/embed" "$src/examples/embed/main.cc" \
  -DRETENTION_POLICIES_DIR="\"$(pkg-config --variable=policiesdir retention)\"" \
  $(pkg-config --cflags --libs retention sqlite3) || fail "pkg-config build of embed"
check_embed "$work/pc/embed"
echo "pkg-config: embed built and ran"

mkdir -p "$work/parent"
cat > "$work/parent/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.22)
project(parent LANGUAGES CXX)
add_subdirectory("$src" retention)
add_executable(parent_app main.cc)
target_link_libraries(parent_app PRIVATE retention::engine)
CMAKE
echo 'int main() { return 0; }' > "$work/parent/main.cc"
cmake -S "$work/parent" -B "$work/parent/build" > "$work/parent.log" 2>&1 || { cat "$work/parent.log"; fail "parent configure"; }
grep -q '^CMAKE_BUILD_TYPE:STRING=$' "$work/parent/build/CMakeCache.txt" || fail "the parent's build type was set"
grep -q '^RETENTION_BUILD_CLI:BOOL=OFF$' "$work/parent/build/CMakeCache.txt" || fail "the CLI is built in a parent project"
grep -q '^RETENTION_BUILD_TESTS:BOOL=OFF$' "$work/parent/build/CMakeCache.txt" || fail "tests are built in a parent project"
echo "add_subdirectory: nothing forced on the parent"
