"""Pillow doing the functions' work, for `cargo xtask bench`; the protocol is the Rust worker's
(dev/bench/worker/src/main.rs):
    python pillow_worker.py <thumbnail|avatar> <out_dir> <budget_ms> <min_runs> <file>...
Written as a careful Python thumbnailer would: draft() (DCT-scaled JPEG decode) before resizing,
EXIF orientation applied to the small result."""
import io
import json
import os
import re
import sys
import time

from PIL import Image, ImageOps

from protocol import done, median


def thumbnail(buf):
    im = Image.open(io.BytesIO(buf))
    im.thumbnail((256, 256), Image.Resampling.LANCZOS)  # calls draft() itself
    im = ImageOps.exif_transpose(im)
    return encode(im)


def avatar(buf):
    im = Image.open(io.BytesIO(buf))
    im.draft("RGB", (1024, 1024))
    im = ImageOps.exif_transpose(im)
    im = ImageOps.fit(im, (512, 512), Image.Resampling.LANCZOS)
    return encode(im)


def encode(im):
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        flat = Image.new("RGB", im.size, (255, 255, 255))
        flat.paste(im, mask=im.getchannel("A"))
        im = flat
    elif im.mode != "RGB":
        im = im.convert("RGB")
    out = io.BytesIO()
    im.save(out, "JPEG", quality=80)
    return out.getvalue(), im.size


def main():
    op, out_dir, budget, min_runs, *files = sys.argv[1:]
    work = {"thumbnail": thumbnail, "avatar": avatar}[op]
    budget, min_runs = float(budget), int(min_runs)
    for file in files:
        buf = open(file, "rb").read()
        times = []
        started = time.perf_counter()
        try:
            last = work(buf)  # warm-up, not timed
            while not done(times, (time.perf_counter() - started) * 1e3, min_runs, budget):
                t = time.perf_counter()
                last = work(buf)
                times.append((time.perf_counter() - t) * 1e3)
        except Exception as e:  # a rejection, as the functions would report it
            print(json.dumps({"file": file, "runs": len(times), "median_ms": median(times), "rejected": str(e)}))
            continue
        data, (w, h) = last
        output = os.path.join(out_dir, os.path.splitext(os.path.basename(file))[0] + ".jpg")
        with open(output, "wb") as f:
            f.write(data)
        print(json.dumps({"file": file, "runs": len(times), "median_ms": median(times), "out_bytes": len(data),
                          "width": w, "height": h, "output": output}), flush=True)
    hwm = re.search(r"VmHWM:\s*(\d+)", open("/proc/self/status").read())
    print(json.dumps({"peak_rss_kib": int(hwm.group(1)) if hwm else 0}))


if __name__ == "__main__":
    main()
