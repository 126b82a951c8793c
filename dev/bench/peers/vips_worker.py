"""Debian's vipsthumbnail (libvips-tools) doing the functions' work, for `cargo xtask bench`; the
protocol is the Rust worker's (dev/bench/worker/src/main.rs):
    python vips_worker.py <thumbnail|avatar> <out_dir> <budget_ms> <min_runs> <file>...
vipsthumbnail is a program, not a library, so every run is a process of its own that reads the file
from disk and writes its output: the times here include process start and file I/O, which the
in-process peers are measured without. Peak RSS is the largest child's (wait4's ru_maxrss)."""
import json
import os
import subprocess
import sys
import time

from protocol import done, median

# Auto-rotation is vipsthumbnail's default; `>` never enlarges; jpegsave flattens onto `background`.
OPS = {
    "thumbnail": lambda src, dst: ["vipsthumbnail", src, "-s", "256x256>", "-o", f"{dst}[Q=80,strip]"],
    "avatar": lambda src, dst: ["vipsthumbnail", src, "-s", "512x512", "-m", "centre",
                                "-o", f"{dst}[Q=80,strip,background=255]"],
}


def run(argv):
    """One process; returns (wall ms, max RSS KiB, stderr) or raises on a failed exit."""
    t = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    ms = (time.perf_counter() - t) * 1e3
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(stderr.decode(errors="replace").strip() or f"exit {code}")
    return ms, usage.ru_maxrss


def main():
    op, out_dir, budget, min_runs, *files = sys.argv[1:]
    command = OPS[op]
    budget, min_runs = float(budget), int(min_runs)
    peak = 0
    for file in files:
        output = os.path.join(out_dir, os.path.splitext(os.path.basename(file))[0] + ".jpg")
        argv = command(file, output)
        times = []
        started = time.perf_counter()
        try:
            _, rss = run(argv)  # warm-up (page cache, shared libraries), not timed
            peak = max(peak, rss)
            while not done(times, (time.perf_counter() - started) * 1e3, min_runs, budget):
                ms, rss = run(argv)
                times.append(ms)
                peak = max(peak, rss)
        except RuntimeError as e:
            print(json.dumps({"file": file, "runs": len(times), "median_ms": median(times), "rejected": str(e)}))
            continue
        size = subprocess.run(["vipsheader", "-f", "width", output], capture_output=True, text=True, check=True)
        height = subprocess.run(["vipsheader", "-f", "height", output], capture_output=True, text=True, check=True)
        print(json.dumps({"file": file, "runs": len(times), "median_ms": median(times),
                          "out_bytes": os.path.getsize(output), "width": int(size.stdout),
                          "height": int(height.stdout), "output": output}), flush=True)
    print(json.dumps({"peak_rss_kib": peak}))


if __name__ == "__main__":
    main()
