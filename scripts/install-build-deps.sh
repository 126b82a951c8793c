#!/usr/bin/env bash
# Build tools the functions need: `nasm` assembles libjpeg-turbo's x86 SIMD. mozjpeg-sys builds
# without it (a warning, then JPEG decoding several times slower), so `cargo xtask package`
# refuses such a binary and calls this first. From the machine's package manager: apt (Debian,
# Ubuntu) or dnf/yum (Amazon Linux, as CodeBuild runs). Idempotent.
set -euo pipefail
command -v nasm >/dev/null 2>&1 && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-build-deps: installing nasm (first run only)" >&2
if command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || true
  $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends nasm >&2
elif command -v dnf >/dev/null 2>&1; then
  $sudo dnf install -y -q nasm >&2
elif command -v yum >/dev/null 2>&1; then
  $sudo yum install -y -q nasm >&2
fi
if ! command -v nasm >/dev/null 2>&1; then
  echo "install-build-deps: nasm could not be installed; install it (https://nasm.us) and run again" >&2
  exit 1
fi
