#!/usr/bin/python3
"""Stamps the MicroT image header of a firmware binary (post-link step of the board ports).

usage: fw_stamp.py IMAGE.bin [--version V] [--chip 0x480|0x470|0] [--force]

The port links FW_HEADER_INIT(version, chip) at offset 0x400 (firmware/core/fw_header.h); after
`objcopy -O binary` this fills in image_bytes (the file's length), the CRC-32 of the image
without the 64 header bytes, and the header CRC, in place. The version and chip come from the
placeholder unless given here. Without --force the file must already hold the header magic at
0x400, so a binary without the placeholder is never overwritten by mistake.
"""
import argparse, struct, sys, zlib

HDR_OFF, HDR_BYTES, MAGIC = 0x400, 64, 0x5746544D


def stamp(img, version, chip_id):
    """Writes a complete header into img (a bytearray holding the whole image)."""
    if len(img) < HDR_OFF + HDR_BYTES:
        raise ValueError("image shorter than the header end (0x440 bytes)")
    v = version.encode("ascii")
    if not 0 < len(v) < 32 or any(c < 0x20 or c > 0x7E for c in v):
        raise ValueError("version must be 1..31 printable ASCII characters")
    hdr = bytearray(HDR_BYTES)
    struct.pack_into("<IHHIIHH", hdr, 0, MAGIC, 1, HDR_BYTES, len(img), 0, chip_id, 0)
    hdr[20:20 + len(v)] = v
    img[HDR_OFF:HDR_OFF + HDR_BYTES] = hdr
    crc = zlib.crc32(bytes(img[:HDR_OFF]))
    crc = zlib.crc32(bytes(img[HDR_OFF + HDR_BYTES:]), crc)
    struct.pack_into("<I", img, HDR_OFF + 12, crc)
    struct.pack_into("<I", img, HDR_OFF + 60, zlib.crc32(bytes(img[HDR_OFF:HDR_OFF + 60])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("--version")
    ap.add_argument("--chip")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    img = bytearray(open(a.image, "rb").read())
    placeholder = len(img) >= HDR_OFF + HDR_BYTES and \
        struct.unpack_from("<I", img, HDR_OFF)[0] == MAGIC
    if not placeholder and not a.force:
        sys.exit("fw_stamp: %s has no header placeholder at 0x400 (link FW_HEADER_INIT there, "
                 "or --force)" % a.image)
    version = a.version
    chip = int(a.chip, 0) if a.chip else 0
    if placeholder:
        if version is None:
            version = bytes(img[HDR_OFF + 20:HDR_OFF + 52]).split(b"\0")[0].decode("ascii")
        if a.chip is None:
            chip = struct.unpack_from("<H", img, HDR_OFF + 16)[0]
    if not version:
        sys.exit("fw_stamp: no version (give --version)")
    try:
        stamp(img, version, chip)
    except ValueError as e:
        sys.exit("fw_stamp: %s" % e)
    with open(a.image, "wb") as f:
        f.write(img)
    print("fw_stamp: %s: %d bytes, version %s, chip 0x%03x" % (a.image, len(img), version, chip))


if __name__ == "__main__":
    main()
