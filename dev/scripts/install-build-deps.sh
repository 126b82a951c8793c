#!/usr/bin/env bash
# Build tools the functions need: `nasm` assembles libjpeg-turbo's x86 SIMD. mozjpeg-sys builds
# without it (a warning, then JPEG decoding several times slower), so `cargo xtask package`
# refuses such a binary and calls this first. From the machine's package manager: apt (Debian,
# Ubuntu) or dnf/yum (Amazon Linux, as CodeBuild runs). Idempotent.
#
# `install-build-deps.sh arm64` also installs what cross-building the arm64 functions on x86_64
# takes: Rust's aarch64 target, Debian's cross gcc and sysroot (linker; libjpeg-turbo's NEON code,
# libwebp and aws-lc are C), and qemu-user, which runs the binary for `package`'s checks.
set -euo pipefail
arch="${1:-}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

install() { # install <command that shows it is there> <apt packages> <dnf/yum packages>
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "install-build-deps: installing $2 (first run only)" >&2
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || true
    # shellcheck disable=SC2086
    $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $2 >&2
  elif [ -n "$3" ] && command -v dnf >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    $sudo dnf install -y -q $3 >&2
  elif [ -n "$3" ] && command -v yum >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    $sudo yum install -y -q $3 >&2
  fi
  if ! command -v "$1" >/dev/null 2>&1; then
    if [ -z "$3" ] && ! command -v apt-get >/dev/null 2>&1; then
      echo "install-build-deps: cross-building needs Debian's or Ubuntu's $2; here, build on a machine of the target architecture instead (CodeBuild: an ARM_CONTAINER for arm64)" >&2
    else
      echo "install-build-deps: $1 could not be installed; install $2 and run again" >&2
    fi
    exit 1
  fi
}

install nasm nasm nasm
case "$arch" in
  "") ;;
  arm64)
    # Amazon Linux has no aarch64 cross sysroot: build arm64 there on an arm64 host (CodeBuild's
    # ARM_CONTAINER), where none of this is needed.
    install aarch64-linux-gnu-gcc "gcc-aarch64-linux-gnu libc6-dev-arm64-cross" ""
    install qemu-aarch64 qemu-user ""
    if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
      echo "install-build-deps: adding Rust's aarch64-unknown-linux-gnu target (first run only)" >&2
      rustup target add aarch64-unknown-linux-gnu >&2
    fi
    ;;
  *)
    echo "install-build-deps: cannot cross-build for '$arch' here (x86_64 or arm64 on an x86_64 host)" >&2
    exit 2
    ;;
esac
