#!/usr/bin/python3
"""Generates a firmware image for the flashing tests and benchmark, shaped like a real one.

usage: gen_flash_image.py --chip l4r5zi|h7a3zi --size-kib N --out IMG.bin [--hex IMG.hex]
                          [--version V] [--seed S] [--blank-pct P] [--change-page K]

Layout (flash base 0x08000000): vector table (initial SP at the top of SRAM, reset handler in
.text with the Thumb bit), the MicroT image header at 0x400 (firmware/core/fw_header.h), then
.text (pseudo-random bytes, seeded: incompressible like machine code), pages left blank (0xFF:
alignment gaps and reserved areas, P% of the pages), and .rodata (low-entropy tables); every
section ends mid-page, its tail padded with 0xFF as a linker would. The header is stamped last:
image_bytes, CRC-32 of the image without the header, header CRC. --change-page K flips bytes in
page K after generation (a "new build" differing in one page) and restamps.
"""
import argparse, os, random, struct, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fw_stamp import stamp  # noqa: E402  (the one header writer of the repo's scripts)

CHIPS = {  # board: (chip_id, page_bytes, initial SP)
    "l4r5zi": (0x470, 4096, 0x200A0000),
    "h7a3zi": (0x480, 8192, 0x24100000),
}
BASE = 0x08000000


def to_hex(img, base):
    out = []
    upper = None
    for off in range(0, len(img), 16):
        addr = base + off
        if addr >> 16 != upper:
            upper = addr >> 16
            rec = bytes([2, 0, 0, 4, upper >> 8, upper & 0xFF])
            out.append(":" + rec.hex().upper() + "%02X" % ((-sum(rec)) & 0xFF))
        chunk = img[off:off + 16]
        if all(b == 0xFF for b in chunk):
            continue  # a gap, as objcopy leaves between sections
        rec = bytes([len(chunk), (addr >> 8) & 0xFF, addr & 0xFF, 0]) + bytes(chunk)
        out.append(":" + rec.hex().upper() + "%02X" % ((-sum(rec)) & 0xFF))
    out.append(":00000001FF")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chip", default="l4r5zi", choices=sorted(CHIPS))
    ap.add_argument("--size-kib", type=int, default=256)
    ap.add_argument("--out", required=True)
    ap.add_argument("--hex")
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--blank-pct", type=int, default=25)
    ap.add_argument("--change-page", type=int, default=-1)
    a = ap.parse_args()
    chip_id, page, sp = CHIPS[a.chip]
    size = a.size_kib * 1024
    npages = size // page
    rnd = random.Random(a.seed)
    img = bytearray(b"\xff" * size)
    # Which pages are blank: never page 0 (vector table + header), spread over the image.
    nblank = npages * a.blank_pct // 100
    blank = set(rnd.sample(range(1, npages), nblank)) if nblank else set()
    text_end = int(npages * 0.7)
    for p in range(npages):
        if p in blank:
            continue
        lo, hi = p * page, (p + 1) * page
        if p + 1 not in blank and p + 1 < npages and rnd.random() < 0.3:
            hi -= rnd.randrange(64, page // 2) & ~3  # section tail padded with 0xFF
        if p < text_end:
            img[lo:hi] = rnd.randbytes(hi - lo)
        else:  # .rodata: tables of small values
            img[lo:hi] = bytes((i * 7 + p) & 0x3F for i in range(hi - lo))
    reset = BASE + 0x800 + 1
    struct.pack_into("<II", img, 0, sp, reset)
    for i in range(2, 0x400 // 4):
        struct.pack_into("<I", img, i * 4, reset)
    if a.change_page >= 0:
        off = a.change_page * page + 0x100
        for i in range(32):
            img[off + i] ^= 0x5A
    stamp(img, a.version, chip_id)
    with open(a.out, "wb") as f:
        f.write(img)
    if a.hex:
        with open(a.hex, "w") as f:
            f.write(to_hex(img, BASE))
    print("%s: %d bytes, %d pages of %d, %d blank" % (a.out, size, npages, page, len(blank)))


if __name__ == "__main__":
    main()
