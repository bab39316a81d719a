#!/usr/bin/env bash
# Regenerates docs/report.png, the README's report screenshot: the demo deployment at a
# fixed date, its HTML report rendered by headless Chromium (the top of the page).
# Usage: scripts/report_screenshot.sh [RETENTION_EXECUTABLE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
retention=${1:-$root/build/cli/retention}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$retention" demo init --dir "$work/demo" --rows 3000 --today 2026-11-22 > /dev/null
"$retention" report --config "$work/demo/config.yaml" --as-of 2026-11-22 --format html --out "$work/report.html" 2> /dev/null
chromium --headless --no-sandbox --disable-gpu --no-proxy-server --user-data-dir="$work/profile" --hide-scrollbars \
  --window-size=1000,1400 --screenshot="$root/docs/report.png" "file://$work/report.html" 2> /dev/null
echo "wrote $root/docs/report.png"
