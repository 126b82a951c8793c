#!/usr/bin/env bash
# The browser test's tools: Debian's Chromium (/usr/bin/chromium, from the machine's apt sources;
# Debian keeps only the current security build, so the version is recorded, not pinned) and
# playwright-core, pinned by tests/browser/package-lock.json, into target/tools/browser.
# Idempotent; safe to call from parallel tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
mkdir -p "$target/tools"
exec 9>"$target/tools/.lock-browser"
flock 9
if ! command -v chromium >/dev/null 2>&1; then
  echo "install-browser: installing Debian's chromium (first run only)" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # One apt at a time: the bench's and the browser's installers run side by side in `xtask ci`.
  (
    flock 8
    $sudo apt-get update -qq >&2
    $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium >&2
  ) 8>"$target/tools/.lock-apt"
fi
lock="$root/tests/browser/package-lock.json"
dest="$target/tools/browser"
stamp="$dest/.installed-$(sha256sum "$lock" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "install-browser: installing playwright-core ($(grep -m1 -A1 '"node_modules/playwright-core"' "$lock" | grep -o '[0-9][0-9.]*')) into $dest (first run only)" >&2
  rm -rf "$dest"
  mkdir -p "$dest"
  cp "$root/tests/browser/package.json" "$lock" "$dest/"
  (cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
  touch "$stamp"
fi
echo "install-browser: $(chromium --version 2>/dev/null || echo 'chromium missing')" >&2
