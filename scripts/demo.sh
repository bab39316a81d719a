#!/usr/bin/env bash
# The main job on the embedded default: build, validate the shipped policies, and
# explain a few records' timelines.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
"$root/scripts/setup.sh" >/dev/null
r() { echo "\$ retention $*"; "$build/cli/retention" "$@"; echo; }
cd "$root"
r policies check policies
r explain --rule F01.droits --fact fin_droits=2023-11-21 --as-of 2026-11-22
r explain --rule F05.prestations --fact date_versement=2020-02-29 --as-of 2026-11-22 --format json
r explain --rule F02.droits --fact fin_droits=2019-06-30 --fact contentieux=true --as-of 2026-11-22
