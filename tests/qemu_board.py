"""qemu_board.py — starts a firmware image under qemu-system-arm with its UART on a pty, the way
the tests talk to a real board over a serial line, and stops it by its PID.

    with QemuBoard("qemu-an386", elf, uid="0102...") as board:
        board.write(b"...");  board.read_until(b"\\n")

QEMU prints "char device redirected to /dev/pts/N (label serial0)" when the pty is ready; the
UID reaches the firmware through the semihosting command line (firmware/ports/mps2/mps2_hal.c).
-icount shift=0 makes the guest's instruction counter exact (1 ns of virtual time per instruction).
"""
import os
import re
import select
import shutil
import signal
import subprocess
import time
import tty

QEMU = shutil.which("qemu-system-arm")
MACHINES = {"qemu-an386": "mps2-an386", "qemu-an500": "mps2-an500"}


class QemuBoard:
    def __init__(self, board, elf, uid=None, extra_args=(), start_timeout_s=10.0):
        self.board, self.elf, self.uid = board, elf, uid
        self.extra_args = list(extra_args)
        self.start_timeout_s = start_timeout_s
        self.proc = None
        self.fd = None
        self.pty = None
        self.log = b""

    def start(self):
        sh = "enable=on,target=native,arg=microt"
        if self.uid:
            sh += ",arg=uid=" + self.uid
        cmd = [QEMU, "-M", MACHINES[self.board], "-nographic", "-monitor", "none",
               "-serial", "pty", "-icount", "shift=0", "-semihosting-config", sh,
               "-kernel", self.elf] + self.extra_args
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout_s
        out = self.proc.stdout.fileno()
        while self.pty is None:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("qemu did not open its pty: %r" % self.log)
            ready, _, _ = select.select([out], [], [], left)
            if ready:
                chunk = os.read(out, 4096)
                self.log += chunk
                m = re.search(rb"(/dev/pts/\d+)", self.log)
                if m:
                    self.pty = m.group(1).decode()
        self.fd = os.open(self.pty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)
        return self

    def write(self, data):
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
                view = view[n:]
            except BlockingIOError:
                select.select([], [self.fd], [], 1.0)

    def read(self, timeout_s=1.0):
        ready, _, _ = select.select([self.fd], [], [], timeout_s)
        if not ready:
            return b""
        try:
            return os.read(self.fd, 65536)
        except (BlockingIOError, OSError):
            return b""

    def read_until(self, marker, timeout_s=10.0):
        buf = b""
        deadline = time.monotonic() + timeout_s
        while marker not in buf and time.monotonic() < deadline:
            buf += self.read(min(0.2, max(0.0, deadline - time.monotonic())))
        return buf

    def wait_exit(self, timeout_s=10.0):
        """Waits for QEMU to end (semihosting exit); returns its status or None."""
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
