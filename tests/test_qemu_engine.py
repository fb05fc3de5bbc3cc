"""test_qemu_engine.py — the int8 engine compiled for Cortex-M4 and Cortex-M7 runs real models on
the QEMU targets (firmware/ports/mps2/bench_main.c) and must give, byte for byte, the host
engine's features and outputs and TFLite Micro's reference output (../shared/models/expected).
Drives tools/qemu-bench/qemu_bench.py without writing bench figures.

Exit 0 pass, 77 skip (no QEMU, images not built, or the shared models absent), 1 fail.
"""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B = os.environ.get("MICROT_BUILD", "build")


def main():
    if shutil.which("qemu-system-arm") is None:
        print("SKIP: qemu-system-arm not installed")
        return 77
    needed = [os.path.join(B, "firmware", "bench-prep")] + [
        os.path.join(B, "firmware", b, "bench.elf") for b in ("qemu-an386", "qemu-an500")]
    missing = [p for p in needed if not os.path.exists(p)]
    if missing:
        print("SKIP: not built (make firmware): " + " ".join(missing))
        return 77
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "qemu-bench", "qemu_bench.py"),
                        "--build", B], timeout=600)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
