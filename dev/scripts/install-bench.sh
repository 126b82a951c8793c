#!/usr/bin/env bash
# The peers `cargo xtask bench` measures against, pinned, into ignored folders:
#   Pillow and the awscli -> target/tools/bench   (dev/scripts/requirements/bench.txt)
#   sharp (libvips)       -> target/tools/sharp   (dev/bench/peers/package-lock.json)
#   vipsthumbnail, and jpegtran/rdjpgcom for the baseline and progressive twins -> Debian's
#   libvips-tools and libjpeg-turbo-progs, from the machine's apt sources (Debian keeps only the
#   current security build, so the bench records their versions; they are not pinned)
# Idempotent; safe to call from parallel runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
bash "$root/dev/scripts/install-tools.sh" bench
lock="$root/dev/bench/peers/package-lock.json"
dest="$target/tools/sharp"
mkdir -p "$target/tools"
exec 9>"$target/tools/.lock-sharp"
flock 9
if ! command -v vipsthumbnail >/dev/null 2>&1 || ! command -v jpegtran >/dev/null 2>&1 || ! command -v rdjpgcom >/dev/null 2>&1; then
  echo "install-bench: installing Debian's libvips-tools and libjpeg-turbo-progs (first run only)" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # One apt at a time: the bench's and the browser's installers run side by side in `xtask ci`.
  (
    flock 8
    $sudo apt-get update -qq >&2 || true
    $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends libvips-tools libjpeg-turbo-progs >&2
  ) 8>"$target/tools/.lock-apt"
fi
stamp="$dest/.installed-$(sha256sum "$lock" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "install-bench: installing sharp ($(grep -m1 -A1 '"node_modules/sharp"' "$lock" | grep -o '[0-9][0-9.]*')) into $dest (first run only)" >&2
  rm -rf "$dest"
  mkdir -p "$dest"
  cp "$root/dev/bench/peers/package.json" "$lock" "$dest/"
  # sharp's prebuilt libvips comes as an optional npm package; its install script only checks it.
  (cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
  touch "$stamp"
fi
