#!/usr/bin/env bash
# docs/library.md quotes the example programs: every ```cpp block in it must appear,
# character for character, in one of the files of examples/embed and
# examples/custom_connector, which CI builds and runs (tests/packaging/run.sh).
# Usage: library_doc_test.sh SOURCE_DIR
set -euo pipefail
python3 - "$1" <<'PY'
import pathlib, re, sys
root = pathlib.Path(sys.argv[1])
doc = (root / "docs/library.md").read_text()
sources = "".join(p.read_text() for d in ("examples/embed", "examples/custom_connector")
                  for p in sorted((root / d).glob("*.cc")))
blocks = re.findall(r"```cpp\n(.*?)```", doc, re.S)
stale = [b for b in blocks if b not in sources]
for b in stale:
    print("docs/library.md quotes code that is not in the examples:\n" + b, file=sys.stderr)
print(f"{len(blocks)} code blocks, {len(stale)} stale")
sys.exit(1 if stale or not blocks else 0)
PY
