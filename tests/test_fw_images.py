"""test_fw_images.py — the NUCLEO firmware images `make firmware` builds are what the daemon's
flasher accepts: each build/firmware/nucleo-*/microt.bin carries a sound image header (size, CRCs,
the part's chip ID, the version) and goes through the AN3155 flasher (build/microt-flash) onto the
simulator's ROM bootloader for that part (microt-sim --bootloader); the ELF, whose .fw_header the
build stamps too, then compares equal byte for byte (nothing rewritten). Simulators are started and
stopped by PID.

Exit 0 pass, 77 skip (programs or images not built), 1 fail.
"""
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

B = os.environ.get("MICROT_BUILD", "build")
BOARDS = {"nucleo-h7a3zi": ("h7a3zi", 0x480), "nucleo-l4r5zi": ("l4r5zi", 0x470)}
HDR_OFF, MAGIC = 0x400, 0x5746544D
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def header(path):
    img = open(path, "rb").read()
    if len(img) < HDR_OFF + 64:
        return None
    h = img[HDR_OFF:HDR_OFF + 64]
    magic, _, _, size, crc, chip, _ = struct.unpack_from("<IHHIIHH", h)
    return {"magic": magic == MAGIC, "size": size == len(img),
            "crc": crc == zlib.crc32(img[:HDR_OFF] + img[HDR_OFF + 64:]),
            "hcrc": struct.unpack_from("<I", h, 60)[0] == zlib.crc32(h[:60]),
            "chip": chip, "version": h[20:52].split(b"\0")[0].decode("ascii", "replace")}


def flash(port, chip, image):
    r = subprocess.run([os.path.join(B, "microt-flash"), "--no-go", "--chip", chip, "-q", port,
                        image], capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def main():
    progs = [os.path.join(B, p) for p in ("microt-sim", "microt-flash")]
    images = [os.path.join(B, "firmware", b, "microt." + e) for b in BOARDS for e in ("bin", "elf")]
    missing = [p for p in progs + images if not os.path.exists(p)]
    if missing:
        print("SKIP: not built: " + " ".join(missing))
        return 77
    for board, (part, chip_id) in BOARDS.items():
        binp = os.path.join(B, "firmware", board, "microt.bin")
        h = header(binp)
        check(h is not None and h["magic"] and h["size"] and h["crc"] and h["hcrc"],
              f"{board}: microt.bin has a sound stamped header {h}")
        check(h is not None and h["chip"] == chip_id, f"{board}: header chip ID 0x{chip_id:03x}")
        with tempfile.TemporaryDirectory(prefix="microt-fwimg-") as d:
            port = os.path.join(d, "board")
            sim = subprocess.Popen([os.path.join(B, "microt-sim"), "--pty", port, "--board", part,
                                    "--bootloader", "--flash", os.path.join(d, "flash.bin")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                for _ in range(100):
                    if os.path.exists(port):
                        break
                    time.sleep(0.02)
                rc, out = flash(port, part, binp)
                m = re.search(r"flash ok chip=0x([0-9a-f]+) .*version=(\S+)", out)
                check(rc == 0 and m is not None and int(m.group(1), 16) == chip_id and
                      h is not None and m.group(2) == h["version"],
                      f"{board}: the flasher writes microt.bin ({out.strip()[-120:]})")
                rc, out = flash(port, part, os.path.join(B, "firmware", board, "microt.elf"))
                m = re.search(r"pages=(\d+) same=(\d+) erased=0 written=0", out)
                check(rc == 0 and m is not None and m.group(1) == m.group(2),
                      f"{board}: microt.elf holds the same bytes, header included "
                      f"({out.strip()[-120:]})")
            finally:
                os.kill(sim.pid, signal.SIGTERM)
                try:
                    sim.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.kill(sim.pid, signal.SIGKILL)
                    sim.wait()
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
