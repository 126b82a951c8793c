#!/usr/bin/env bash
# Installs the pinned Python tools the tests need (moto server today) into an ignored folder.
# Idempotent and quiet when everything is already there; safe to call from every test run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
venv="$target/tools/venv"
req="$root/scripts/requirements.txt"
stamp="$venv/.installed-$(sha256sum "$req" | cut -c1-16)"
[ -f "$stamp" ] && exit 0
echo "install-tools: installing $(grep -vc '^#' "$req") pinned Python packages into $venv (first run only)" >&2
mkdir -p "$target/tools"
# Serialise concurrent callers (parallel test binaries) on one lock.
exec 9>"$target/tools/.lock"
flock 9
[ -f "$stamp" ] && exit 0
python3 -m venv "$venv"
"$venv/bin/pip" install --disable-pip-version-check -q -r "$req" >&2
rm -f "$venv"/.installed-*
touch "$stamp"
echo "install-tools: done" >&2
