#!/usr/bin/env bash
# The peers `cargo xtask bench` measures against, pinned, into ignored folders:
#   Pillow and the awscli -> target/tools/bench   (scripts/requirements/bench.txt)
#   sharp (libvips)       -> target/tools/sharp   (bench/peers/package-lock.json)
# Idempotent; safe to call from parallel runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
bash "$root/scripts/install-tools.sh" bench
lock="$root/bench/peers/package-lock.json"
dest="$target/tools/sharp"
mkdir -p "$target/tools"
exec 9>"$target/tools/.lock-sharp"
flock 9
stamp="$dest/.installed-$(sha256sum "$lock" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "install-bench: installing sharp ($(grep -m1 -A1 '"node_modules/sharp"' "$lock" | grep -o '[0-9][0-9.]*')) into $dest (first run only)" >&2
  rm -rf "$dest"
  mkdir -p "$dest"
  cp "$root/bench/peers/package.json" "$lock" "$dest/"
  # sharp's prebuilt libvips comes as an optional npm package; its install script only checks it.
  (cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
  touch "$stamp"
fi
