#!/usr/bin/env bash
# The main job on the embedded SQLite default, end to end: build, generate the demo
# deployment, plan (the DPO's dry-run, saved), run the approved plan, verify the audit.
# Usage: scripts/demo.sh            (DEMO_DIR, ROWS and BUILD_DIR may be set)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
demo=${DEMO_DIR:-$root/demo}
rows=${ROWS:-20000}
"$root/scripts/setup.sh" >/dev/null
retention() { "$build/cli/retention" "$@"; }
step() { printf '\n\033[1m$ retention %s\033[0m\n' "$*"; }

step demo init --rows "$rows" --dir "$demo" --force
retention demo init --rows "$rows" --dir "$demo" --force
mkdir -p "$demo/reports"
config="$demo/config.yaml"

step policies check
retention policies check "$root/policies"

step plan --config "$config" --save "$demo/reports/plan.json"
retention plan --config "$config" --save "$demo/reports/plan.json" | tee "$demo/reports/plan.txt"

step run --config "$config" --approved "$demo/reports/plan.json" --approved-by "$(id -un)"
retention run --config "$config" --approved "$demo/reports/plan.json" --approved-by "$(id -un)" | tail -n 4

step audit verify --config "$config"
retention audit verify --config "$config"

cert=$(ls -t "$demo"/state/certificates/run-*.txt | head -n 1)
cat <<MSG

Done. The dry-run report (what was due, held, missing, manual) is $demo/reports/plan.txt
(and plan.json); the deletion certificate of this run is $cert (and ${cert%.txt}.json).
Try next:  $build/cli/retention plan --config $config --as-of 2027-06-30
           $build/cli/retention explain --rule F05.prestations --fact date_versement=2020-02-29
MSG
