"""test_qemu.py — the QEMU ports (firmware/ports/mps2 + qemu-an386, qemu-an500) checked from
outside, through the UART on a pty, the way the daemon sees a board: the self-test image
(firmware/ports/mps2/selftest_main.c) runs its hal.h checks on the ARM target, then answers a
line protocol. Built by `make firmware-selftest` (a prerequisite of `make test`).

Exit 0 pass, 77 skip (no qemu-system-arm or images not built), 1 fail.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qemu_board import QEMU, QemuBoard  # noqa: E402

B = os.environ.get("MICROT_BUILD", "build")
BANNER = re.compile(rb"selftest board=(\S+) uid=([0-9a-f]{24}) boot=(\d+) fails=(\d+)\n")
LOOP_INSTRUCTIONS = 2_000_000  # selftest_main.c: 1e6 turns of subs+bne
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def banner(board):
    out = board.read_until(b"\n", timeout_s=15)
    m = BANNER.search(out)
    if not m:
        return None
    return m.group(1).decode(), m.group(2).decode(), int(m.group(3)), int(m.group(4))


def test_board(name):
    elf = os.path.join(B, "firmware", name, "selftest.elf")
    uid_a, uid_b = "0123456789abcdef01234567", "fedcba9876543210fedcba98"
    with QemuBoard(name, elf, uid=uid_a) as a, QemuBoard(name, elf, uid=uid_b) as b:
        ba, bb = banner(a), banner(b)
        check(ba is not None and bb is not None, f"{name}: both instances print the banner")
        if ba is None or bb is None:
            return
        check(ba[0] == name, f"{name}: board name {ba[0]}")
        check(ba[3] == 0, f"{name}: on-target hal.h checks, {ba[3]} failed")
        check(ba[1] == uid_a and bb[1] == uid_b, f"{name}: each instance has its own UID")
        check(ba[2] == 1, f"{name}: boot count 1 after QEMU starts ({ba[2]})")

        payload = bytes(range(0x20, 0x7f)) * 8 + b"\n"  # 761 bytes: more than the UART holds
        a.write(b"e" + payload)
        got = a.read_until(b"\n", timeout_s=10)
        check(got == payload, f"{name}: {len(payload)}-byte line echoed intact")

        a.write(b"c")
        m = re.search(rb"cycles=(\d+)\n", a.read_until(b"\n"))
        cycles = int(m.group(1)) if m else -1
        # SysTick resolution is 40 instructions; the measurement adds a few dozen of its own.
        check(LOOP_INSTRUCTIONS <= cycles <= LOOP_INSTRUCTIONS + 400,
              f"{name}: hal_cycles counts instructions ({cycles} for {LOOP_INSTRUCTIONS})")

        a.write(b"r")
        again = banner(a)
        check(again is not None and again[2] == 2 and again[1] == uid_a and again[3] == 0,
              f"{name}: reboot comes back with boot count 2, same UID ({again})")

        b.write(b"l")
        m = re.search(rb"log (ok (\d+)|FAIL)\n", b.read_until(b"\n", timeout_s=20))
        check(m is not None and m.group(2) is not None,
              f"{name}: boot counter log survives wrap-around and a torn record ({m and m.group(0)})")

        a.write(b"k")
        got = a.read_until(b"\n", timeout_s=30)
        check(got == b"kick ok\n", f"{name}: a refreshed watchdog does not fire ({got!r})")

        a.write(b"w")
        again = banner(a)
        check(again is not None and again[2] == 3 and again[3] == 0,
              f"{name}: a firmware that stops refreshing the watchdog is reset (boot count 3: "
              f"{again})")

        a.write(b"b")
        check(a.wait_exit(10) == 3, f"{name}: reboot into the bootloader ends QEMU with code 3")
        b.write(b"x")
        check(b.wait_exit(10) == 0, f"{name}: semihosting exit code 0 (no failed checks)")


def main():
    if QEMU is None:
        print("SKIP: qemu-system-arm not installed (scripts/deps.sh installs it)")
        return 77
    boards = ["qemu-an386", "qemu-an500"]
    missing = [b for b in boards if not os.path.exists(os.path.join(B, "firmware", b, "selftest.elf"))]
    if missing:
        print("SKIP: self-test images not built (make firmware-selftest): " + " ".join(missing))
        return 77
    for name in boards:
        test_board(name)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
