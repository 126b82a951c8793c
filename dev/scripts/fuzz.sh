#!/usr/bin/env bash
# Runs every cargo-fuzz target (dev/fuzz/fuzz_targets) under libFuzzer for N seconds each
# [default 20; CI passes a few]. cargo-fuzz is installed pinned into target/tools/cargo-fuzz;
# its builds go to target/fuzz. Seeds: dev/fuzz/seeds/<target> (small, one per format and feature).
# A crash is written to dev/fuzz/artifacts/<target>/ and fails the run: copy it into
# dev/fuzz/seeds/<target>/ once fixed, so every later run replays it first.
# Usage: dev/scripts/fuzz.sh [seconds] [target...]   |   dev/scripts/fuzz.sh --install (cargo-fuzz only)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
version=0.13.2
tools="$target/tools/cargo-fuzz"
install() {
  # Serialised like the other installers: `cargo xtask ci` starts this early, in the background.
  mkdir -p "$target/tools"
  exec 8>"$target/tools/.lock-cargo-fuzz"
  flock 8
  if ! "$tools/bin/cargo-fuzz" --version 2>/dev/null | grep -q "$version"; then
    echo "fuzz: installing cargo-fuzz $version into $tools (first run only)" >&2
    # Its own build folder: the shared one is locked by whatever cargo runs beside this.
    CARGO_TARGET_DIR="$tools/build" cargo install cargo-fuzz --locked --version "$version" --root "$tools" --quiet
    rm -rf "$tools/build"
  fi
  exec 8>&-
}
if [ "${1:-}" = "--install" ]; then
  install
  exit 0
fi
secs=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(render event)
install
# libFuzzer's instrumentation needs -Z flags, and this machine has only the stable toolchain.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$target/fuzz"
# The workspace's release profile is tuned for Lambda zips (fat LTO, size); a fuzz build wants
# a quick link and speed. This folder is the fuzzer's own, so no other build sees the change.
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_OPT_LEVEL=3 CARGO_PROFILE_RELEASE_STRIP=false \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
cd "$root"
for t in "${targets[@]}"; do
  work="$target/fuzz-corpus/$t"   # grows between runs; the committed seeds stay small
  mkdir -p "$work" "dev/fuzz/artifacts/$t"
  echo "fuzz: $t for ${secs}s" >&2
  "$tools/bin/cargo-fuzz" run --fuzz-dir dev/fuzz "$t" "$work" "dev/fuzz/seeds/$t" -- \
    -max_total_time="$secs" -max_len=1048576 -rss_limit_mb=512 -timeout=5 \
    -artifact_prefix="dev/fuzz/artifacts/$t/" -print_final_stats=1 2>&1 |
    grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)|stat::number_of_executed_units|stat::peak_rss_mb|ERROR|panicked|SUMMARY|Done [0-9]+ runs" >&2
done
