#!/usr/bin/python3
"""Independent checks of the flashing path with Debian's stm32flash, the reference AN3155 client.

On the simulator's ROM bootloader (build/bootrom-sim, the real sim_bootrom.c on a pty; unpaced
here, the benchmark paces it):
  1. stm32flash writes and verifies an image (-w -v), reads it back (-r) identical, and the
     simulator's flash file holds the same bytes: the simulator speaks AN3155 as stm32flash
     expects;
  2. the daemon's flasher (build/microt-flash) writes another image, the simulator reports the
     version it boots after Go, and stm32flash -r reads back identical bytes;
  3. an image for the wrong chip is refused with a clear error and the board stays in its
     bootloader (stm32flash still talks to it).
stm32flash 0.7 knows the L4R5 (0x470) but not the H7A3 (0x480), so the part here is the L4R5.
Exit 0 pass, 77 skip (no stm32flash or no build), 1 fail.
"""
import os, shutil, signal, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B = os.path.join(ROOT, os.environ.get("MICROT_BUILD", "build"))
SIM = os.path.join(B, "bootrom-sim")
FLASH = os.path.join(B, "microt-flash")
GEN = os.path.join(ROOT, "scripts", "gen_flash_image.py")
STM32FLASH = shutil.which("stm32flash")
BASE = 0x08000000


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(cmd, expect_rc=0, timeout=120):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                       text=True)
    if expect_rc is not None and p.returncode != expect_rc:
        fail("%s exited %d (wanted %d):\n%s" % (" ".join(cmd), p.returncode, expect_rc,
                                                p.stdout[-2000:]))
    return p.stdout


def main():
    if STM32FLASH is None:
        print("SKIP: stm32flash not installed (scripts/deps.sh installs it)")
        return 77
    for exe in (SIM, FLASH):
        if not os.access(exe, os.X_OK):
            print("SKIP: %s not built (make all)" % exe)
            return 77
    tmp = tempfile.mkdtemp(prefix="stm32flash-")
    pty = os.path.join(tmp, "pty")
    flash_file = os.path.join(tmp, "flash.bin")
    sim = subprocess.Popen([SIM, "--pty", pty, "--flash", flash_file, "--board", "l4r5zi"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = sim.stdout.readline()
        if not line.startswith("ready"):
            fail("bootrom-sim did not start: " + line)
        size = 96 * 1024
        img1 = os.path.join(tmp, "one.bin")
        img2 = os.path.join(tmp, "two.bin")
        run(["/usr/bin/python3", GEN, "--chip", "l4r5zi", "--size-kib", "96", "--seed", "5",
             "--version", "1.1.0", "--out", img1])
        run(["/usr/bin/python3", GEN, "--chip", "l4r5zi", "--size-kib", "96", "--seed", "6",
             "--version", "1.2.0", "--out", img2])
        want1 = open(img1, "rb").read()
        want2 = open(img2, "rb").read()

        # 1. stm32flash writes, verifies and reads back on the simulator.
        out = run([STM32FLASH, "-m", "8n1", "-b", "115200", "-w", img1, "-v", "-S", hex(BASE),
                   pty])
        if "Device ID    : 0x0470" not in out or "Wrote and verified" not in out:
            fail("stm32flash did not write and verify:\n" + out[-1500:])
        back = os.path.join(tmp, "back1.bin")
        run([STM32FLASH, "-m", "8n1", "-r", back, "-S", "%s:%d" % (hex(BASE), size), pty])
        if open(back, "rb").read() != want1:
            fail("stm32flash read back differs from what it wrote")
        with open(flash_file, "rb") as f:
            if f.read(size) != want1:
                fail("simulator flash file differs from the image stm32flash wrote")
        print("ok 1 stm32flash -w -v and -r on the simulated L4R5")

        # 2. The daemon's flasher writes; stm32flash reads back identical bytes.
        out = run([FLASH, "-q", "--reply-ms", "300", pty, img2])
        if "flash ok chip=0x470" not in out:
            fail("microt-flash: " + out)
        go = sim.stdout.readline().strip()
        if go != "go 0x08000000 bootable=1 version=1.2.0":
            fail("simulator after Go said: " + go)
        back = os.path.join(tmp, "back2.bin")
        run([STM32FLASH, "-m", "8n1", "-r", back, "-S", "%s:%d" % (hex(BASE), size), pty])
        if open(back, "rb").read() != want2:
            fail("stm32flash reads back something else than the daemon flashed")
        print("ok 2 daemon flasher writes, simulator boots 1.2.0, stm32flash -r identical")

        # 3. Wrong chip: refused, board still in its bootloader, nothing changed.
        img7 = os.path.join(tmp, "h7.bin")
        run(["/usr/bin/python3", GEN, "--chip", "h7a3zi", "--size-kib", "64", "--out", img7])
        out = run([FLASH, "-q", "--reply-ms", "300", pty, img7], expect_rc=1)
        if "wrong chip" not in out or "left in its bootloader" not in out:
            fail("wrong chip not reported clearly: " + out)
        back = os.path.join(tmp, "back3.bin")
        run([STM32FLASH, "-m", "8n1", "-r", back, "-S", "%s:%d" % (hex(BASE), size), pty])
        if open(back, "rb").read() != want2:
            fail("a refused image changed the flash")
        print("ok 3 wrong chip refused clearly, board still answers stm32flash")
    finally:
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print("3 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
