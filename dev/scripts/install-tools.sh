#!/usr/bin/env bash
# Installs pinned Python tool sets into ignored folders, one venv per set so their
# dependencies never meet (checkov pins an older boto3 than moto wants):
#   moto  -> target/tools/moto  (dev/scripts/requirements/moto.txt)
#   lint  -> target/tools/lint  (dev/scripts/requirements/lint.txt: cfn-lint, checkov)
#   bench -> target/tools/bench (dev/scripts/requirements/bench.txt: Pillow, awscli; dev/scripts/install-bench.sh)
# Usage: install-tools.sh [set...]   (no argument: every set)
# Idempotent and quiet when a set is already there; safe to call from parallel tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
sets=("$@")
[ ${#sets[@]} -eq 0 ] && sets=(moto lint)
mkdir -p "$target/tools"
for set in "${sets[@]}"; do
  req="$root/dev/scripts/requirements/$set.txt"
  [ -f "$req" ] || { echo "install-tools: unknown tool set '$set' (no $req)" >&2; exit 2; }
  venv="$target/tools/$set"
  stamp="$venv/.installed-$(sha256sum "$req" | cut -c1-16)"
  [ -f "$stamp" ] && continue
  # Serialise concurrent callers on one lock per set; re-check once we hold it.
  exec 9>"$target/tools/.lock-$set"
  flock 9
  if [ ! -f "$stamp" ]; then
    echo "install-tools: installing $set ($(grep -cv '^#' "$req") pinned packages) into $venv (first run only)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    # Every pin carries its file's sha256 (dev/scripts/pin-hashes.py): other bytes fail the install.
    "$venv/bin/pip" install --disable-pip-version-check -q --require-hashes -r "$req" >&2
    touch "$stamp"
    echo "install-tools: $set done" >&2
  fi
  exec 9>&-
done
