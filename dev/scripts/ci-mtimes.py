#!/usr/bin/env python3
"""Lets a fresh clone reuse the workspace's own crates from a target folder kept outside it.

Cargo decides that a path crate is stale when one of its files is newer than the crate's last
build. Every file of a fresh clone is new, so without this each CI run rebuilt every workspace
crate (debug, release with fat LTO, fuzz): about 8 of a warm run's 18 minutes.

The book (<target>/ci-mtimes.tsv) holds, for every tracked file, the sha256 of its content and
the time that content was first seen in a run. A file whose content is in the book gets that
time as its mtime: any build since then was made from this very content, so cargo may reuse it.
Any other file gets the current time, which is newer than every build in the folder, so what
depends on it is rebuilt. Content decides, never the checkout's clock. The book is written before
anything builds, so a run that stops half-way leaves nothing wrong behind.

One run at a time per target folder: .ci/run holds a lock on it while it runs.

Usage: dev/scripts/ci-mtimes.py <target-dir>   (run from the repository's root)
"""

import hashlib
import os
import subprocess
import sys
import time


def main() -> None:
    target = sys.argv[1]
    book = os.path.join(target, "ci-mtimes.tsv")
    seen = {}
    if os.path.exists(book):
        with open(book, encoding="utf-8") as f:
            for line in f:
                digest, ns, path = line.rstrip("\n").split("\t", 2)
                seen[path] = (digest, int(ns))
    now = time.time_ns()
    listed = subprocess.run(["git", "ls-files", "-z"], check=True, capture_output=True).stdout
    kept, changed, rows = 0, 0, []
    for path in sorted(p for p in listed.decode().split("\0") if p):
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        earlier = seen.get(path)
        if earlier and earlier[0] == digest:
            ns, kept = earlier[1], kept + 1
        else:
            ns, changed = now, changed + 1
        os.utime(path, ns=(ns, ns))
        rows.append(f"{digest}\t{ns}\t{path}\n")
    os.makedirs(target, exist_ok=True)
    partial = book + ".partial"
    with open(partial, "w", encoding="utf-8") as f:
        f.writelines(rows)
    os.replace(partial, book)
    print(f"ci-mtimes: {kept} files as before, {changed} new or changed (book: {book})", file=sys.stderr)


if __name__ == "__main__":
    main()
