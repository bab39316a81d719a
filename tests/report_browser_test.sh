#!/usr/bin/env bash
# The report's HTML in a real browser: headless Chromium renders it to PNG and dumps
# its DOM; the charts must be there and the totals in the DOM must be the JSON's.
# Skips (exit 77) when chromium is not installed.
# Usage: report_browser_test.sh RETENTION_EXECUTABLE [PNG_TO_KEEP]
set -euo pipefail
retention=$1
keep=${2:-}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "SKIP: chromium is not installed (scripts/deps.txt lists it)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$retention" demo init --dir "$work/demo" --rows 3000 --today 2026-11-22 > /dev/null
"$retention" report --config "$work/demo/config.yaml" --as-of 2026-11-22 --format json --out "$work/report.json" 2> /dev/null
"$retention" report --config "$work/demo/config.yaml" --as-of 2026-11-22 --format html --out "$work/report.html" 2> /dev/null

run_browser() {
  # No sandbox: CI containers run as root. A private profile, nothing fetched (the page
  # has nothing to fetch; --no-proxy-server keeps it that way).
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-proxy-server --user-data-dir="$work/profile" \
    --enable-logging=stderr --v=0 "$@" "file://$work/report.html"
}
run_browser --window-size=1100,3000 --hide-scrollbars --screenshot="$work/report.png" 2> "$work/screenshot.log" > /dev/null
run_browser --dump-dom > "$work/dom.html" 2> "$work/dom.log"

fail() {
  echo "FAIL: $*"
  exit 1
}
[ -s "$work/report.png" ] || fail "no screenshot"
[ "$(head -c 8 "$work/report.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "the screenshot is not a PNG"
[ "$(stat -c %s "$work/report.png")" -gt 20000 ] || fail "the screenshot is nearly empty"
if grep -Ei 'CONSOLE|Uncaught|Failed to load' "$work/screenshot.log" "$work/dom.log"; then fail "console errors"; fi
grep -q '<svg class="chart" id="forecast-chart"' "$work/dom.html" || fail "no forecast chart in the DOM"
[ "$(grep -o '<rect[^>]*class="seg ' "$work/dom.html" | wc -l)" -gt 0 ] || fail "the forecast chart has no bars"
# The JSON's summary totals, as rendered in the DOM.
json_total() { # summary.due.ACTION | summary.scanned ...
  awk -v key="\"$1\":" '/"summary"/ {in_summary = 1} in_summary && index($0, key) {gsub(/[^0-9]/, "", $2); print $2; exit}' \
    "$work/report.json"
}
for key in archive pseudonymise delete; do
  want=$(json_total "$key")
  got=$(grep -o "data-total=\"due.$key\">[0-9]*<" "$work/dom.html" | grep -o '[0-9]*' | head -1)
  [ -n "$want" ] && [ "$want" = "$got" ] || fail "due $key: JSON $want, DOM $got"
  echo "due $key: $got (JSON $want)"
done
want=$(json_total scanned)
got=$(grep -o 'data-total="scanned">[0-9]*<' "$work/dom.html" | grep -o '[0-9]*' | head -1)
[ "$want" = "$got" ] || fail "scanned: JSON $want, DOM $got"
if [ -n "$keep" ]; then cp "$work/report.png" "$keep"; fi
echo "ok: rendered $(stat -c %s "$work/report.png") bytes of PNG, DOM totals equal the JSON's"
