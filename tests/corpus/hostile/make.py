#!/usr/bin/env python3
"""Writes the hostile files that attack the memory, time and metadata budgets (issue 19).

Each is small on disk and expensive if believed. The outputs are committed, with their rows in
MANIFEST.tsv; this script is how they were made. Deterministic: run it again and the sha256s in
the MANIFEST still hold. Needs Pillow for the JPEG (scripts/install-tools.sh bench has it):

    target/tools/bench/bin/python tests/corpus/hostile/make.py
"""

import io
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, bit_depth: int, color_type: int, rows: bytes, extra: list = ()) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    for kind, data in extra:
        out += chunk(kind, data)
    return out + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def zeros_deflated(size: int) -> bytes:
    """A zlib stream of `size` zero bytes, made without holding them all."""
    z = zlib.compressobj(9)
    block = bytes(1 << 20)
    parts = []
    left = size
    while left:
        n = min(left, len(block))
        parts.append(z.compress(block[:n]))
        left -= n
    parts.append(z.flush())
    return b"".join(parts)


def write(name: str, data: bytes) -> None:
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
    print(f"{name}: {len(data)} bytes")


def main() -> None:
    one_pixel = b"\x00\x00\x00\x00"  # filter byte + one RGB8 pixel
    # iCCP: name, NUL, compression method 0, then zlib data inflating to 256 MiB.
    write("icc_bomb.png", png(1, 1, 8, 2, one_pixel, [(b"iCCP", b"bomb\x00\x00" + zeros_deflated(256 << 20))]))
    # zTXt: keyword, NUL, method 0, zlib data inflating to 256 MiB.
    write("text_bomb.png", png(1, 1, 8, 2, one_pixel, [(b"zTXt", b"Comment\x00\x00" + zeros_deflated(256 << 20))]))
    # eXIf of 5 MiB: a JPEG cannot carry more than 64 KiB in one APP1; a PNG can.
    exif = b"MM\x00\x2a\x00\x00\x00\x08" + bytes(5 << 20)
    write("exif_oversized.png", png(1, 1, 8, 2, one_pixel, [(b"eXIf", exif)]))
    # 100 MP exactly (inside the pixel limit) at 16-bit RGBA: 800 MB decoded, more to convert.
    side = 10_000
    row = b"\x00" + bytes(side * 8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0)
    deep = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    write("deep_100mp_rgba16.png", deep)
    write("scan_bomb.jpg", scan_bomb())
    write("many_frames.gif", many_frames())


def scan_bomb() -> bytes:
    """8000x8000 progressive JPEG with one small AC scan repeated 2,000 times: every repeat walks
    every block again, so time grows with the repeats while the file stays small."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8000, 8000), (120, 130, 140)).save(buf, "JPEG", quality=75, progressive=True)
    data = buf.getvalue()
    scans = []  # (start, end) of each SOS segment with its entropy-coded data
    i = 2
    while i < len(data):
        assert data[i] == 0xFF
        marker = data[i + 1]
        if marker == 0xD9:
            break
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker != 0xDA:
            i += 2 + length
            continue
        j = i + 2 + length
        while not (data[j] == 0xFF and data[j + 1] != 0 and not 0xD0 <= data[j + 1] <= 0xD7):
            j += 1
        scans.append((i, j))
        i = j
    # The first AC scan (Ss > 0, Ah = 0) of luma: header byte 4 is Ns, then Ss after the components.
    for start, end in scans:
        ns = data[start + 4]
        ss = data[start + 5 + 2 * ns]
        ah_al = data[start + 7 + 2 * ns]
        if ss > 0 and ah_al >> 4 == 0:
            ac = data[start:end]
            break
    last_end = scans[-1][1]
    return data[:last_end] + ac * 2000 + data[last_end:]


def many_frames() -> bytes:
    """A 64x64 GIF with 20,000 frames: only the first one is ever read."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("P", (64, 64), 0).save(buf, "GIF")
    one = buf.getvalue()
    image = one.index(b"\x2c\x00\x00\x00\x00\x40\x00\x40\x00")  # descriptor at 0,0, 64x64
    head, frame = one[:image], one[image:-1]  # -1: the trailer
    head += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    delay = b"\x21\xf9\x04\x00\x01\x00\x00\x00"
    return head + (delay + frame) * 20_000 + b"\x3b"


if __name__ == "__main__":
    main()
