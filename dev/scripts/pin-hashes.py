#!/usr/bin/env python3
"""Adds `--hash=sha256:...` to every pin of a tool set's requirements (dev/scripts/requirements/<set>.txt),
so `install-tools.sh` installs with `pip install --require-hashes`: a package re-uploaded under the
same version, or a mirror that serves other bytes, fails the install instead of running in CI.

Usage: dev/scripts/pin-hashes.py <set>...   Downloads each pinned file this machine's pip would
install (`pip download --no-deps`, the same interpreter `install-tools.sh` makes its venvs from)
and rewrites the file: header comments kept, one `name==version --hash=...` line per pin."""
import hashlib
import pathlib
import re
import subprocess
import sys
import tempfile

root = pathlib.Path(__file__).resolve().parents[2]


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project_of(file_name: str) -> str:
    # Wheels: name-version-...whl (name with `_`); sdists: name-version.tar.gz.
    stem = file_name[: -len(".tar.gz")] if file_name.endswith(".tar.gz") else file_name
    return normalized(stem.split("-")[0])


for tool_set in sys.argv[1:]:
    path = root / "dev/scripts/requirements" / f"{tool_set}.txt"
    lines = path.read_text().splitlines()
    header = [l for l in lines if l.startswith("#")]
    pins = [l.split("--hash")[0].strip().rstrip("\\").strip() for l in lines if l.strip() and not l.startswith("#") and not l.strip().startswith("--hash")]
    with tempfile.TemporaryDirectory() as tmp:
        listed = pathlib.Path(tmp) / "pins.txt"
        listed.write_text("\n".join(pins) + "\n")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d", tmp, "-r", str(listed)],
            check=True,
        )
        hashes = {}
        for f in pathlib.Path(tmp).iterdir():
            if f.name != "pins.txt":
                hashes[project_of(f.name)] = hashlib.sha256(f.read_bytes()).hexdigest()
    out = list(header)
    for pin in pins:
        name = normalized(pin.split("==")[0])
        if name not in hashes:
            sys.exit(f"pin-hashes: no file downloaded for {pin}")
        out.append(f"{pin} --hash=sha256:{hashes[name]}")
    path.write_text("\n".join(out) + "\n")
    print(f"pin-hashes: {tool_set}: {len(pins)} pins hashed", file=sys.stderr)
