#!/usr/bin/env bash
# `sudo npm run setup:system`: installs the Debian packages the tests and benchmarks use (the list in
# scripts/system-packages.txt, the same one .ci/run installs). Only missing packages are installed,
# after one `apt-get update`; nothing is done when all are present.
set -euo pipefail
cd "$(dirname "$0")"

mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' system-packages.txt | grep -v '^$')
addon_hint() {
  [ -e ../pi-agent/build/Release/lucid_capture.node ] ||
    echo "setup:system: now build the agent's native addon (as yourself, not root): npm rebuild lucid-agent"
}

missing=()
for pkg in "${packages[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup:system: all ${#packages[@]} Debian packages are installed"
  addon_hint
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup:system: missing ${missing[*]}; run it as root: sudo npm run setup:system" >&2
  exit 1
fi
echo "setup:system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
addon_hint
