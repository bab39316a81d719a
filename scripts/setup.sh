#!/usr/bin/env bash
# Installs the Debian packages the build needs (when missing) and builds into build/.
# Usage: scripts/setup.sh            (BUILD_DIR and BUILD_TYPE may be set; CMAKE_ARGS adds
#        configure options, BUILD_TARGETS limits what is built, e.g. for the sanitizer build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}

missing=()
while read -r pkg; do
  [ -n "$pkg" ] || continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < "$root/scripts/deps.txt"
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
  else
    SUDO=
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A compiler cache, when installed (scripts/deps.txt lists it), makes rebuilds and the
# sanitizer and fuzz builds of CI reuse what did not change.
launcher=""
if command -v ccache > /dev/null; then launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache"; fi
# shellcheck disable=SC2086 # CMAKE_ARGS and BUILD_TARGETS are lists of words
cmake -S "$root" -B "$build" $launcher -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j "$(nproc)" ${BUILD_TARGETS:+--target $BUILD_TARGETS}
