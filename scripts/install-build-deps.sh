#!/usr/bin/env bash
# Build tools the Rust build uses when present: `nasm` lets mozjpeg-sys compile libjpeg-turbo's
# SIMD (without it the build still works, with a warning, and JPEG decoding is slower).
# From the machine's apt sources; idempotent.
set -euo pipefail
if ! command -v nasm >/dev/null 2>&1; then
  echo "install-build-deps: installing Debian's nasm (first run only)" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2 || true
  $sudo apt-get install -y -qq --no-install-recommends nasm >&2 ||
    echo "install-build-deps: nasm could not be installed; JPEG decoding will be built without SIMD" >&2
fi
