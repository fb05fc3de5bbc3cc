#!/usr/bin/python3
"""Flashing benchmark: the daemon's flasher against Debian's stm32flash on the same simulated part.

usage: bench_flash.py [--build build] [--size-kib 256] [--baud 115200] [--turn-latency-us 1000]
                      [--no-reflash]

Both tools flash the same generated image (scripts/gen_flash_image.py: 256 KiB for the L4R5,
25% of the pages blank, section tails padded with 0xFF) onto a freshly erased simulated STM32L4R5
(build/bootrom-sim: the simulator's ROM bootloader on a pty, paced by its line model at 11 bits
per byte for 8E1 and the turn latency at each change of direction). The two tools run at the
same time, each on its own simulated part, so both see the same machine load (the work is almost
all waiting on the modeled wire). Each run is timed from the tool's start to its exit, and each
part's flash is checked against the image afterwards.
  stm32flash: -w IMG -v -S 0x08000000 (write with verify: each block read back), -m 8n1 (a pty);
  daemon:     microt-flash PORT IMG (compare, erase, write, verify by read back, Go).
Then the daemon re-flashes the same image on the now programmed part (the common "nothing
changed" case). Figures go to stdout and to build/bench.json through scripts/bench_json.py:
  flash.time_ratio_vs_stm32flash  daemon time / stm32flash time (lower is better)
  flash.daemon_s, flash.stm32flash_s, flash.daemon_reflash_s
"""
import argparse, os, shutil, signal, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = 0x08000000


def start_sim(b, tmp, name, baud, turn_us):
    pty = os.path.join(tmp, name + ".pty")
    flash = os.path.join(tmp, name + ".flash")
    sim = subprocess.Popen([os.path.join(b, "bootrom-sim"), "--pty", pty, "--flash", flash,
                            "--board", "l4r5zi", "--baud", str(baud), "--turn-latency-us",
                            str(turn_us)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    line = sim.stdout.readline()
    if not line.startswith("ready"):
        sys.exit("bench_flash: bootrom-sim did not start: " + line)
    return sim, pty, flash


def stop_sim(sim):
    sim.send_signal(signal.SIGTERM)
    try:
        sim.wait(timeout=10)
    except subprocess.TimeoutExpired:
        sim.kill()


def start_timed(cmd):
    """Starts cmd; a thread waits for it so its end time is its own, not when we look."""
    run = {"cmd": cmd, "t0": time.monotonic()}
    run["p"] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def wait():
        run["out"], _ = run["p"].communicate(timeout=600)
        run["t1"] = time.monotonic()

    run["th"] = threading.Thread(target=wait)
    run["th"].start()
    return run


def finish_timed(run):
    run["th"].join()
    if run["p"].returncode != 0:
        sys.exit("bench_flash: %s failed:\n%s" % (" ".join(run["cmd"]), run["out"][-2000:]))
    return run["t1"] - run["t0"], run["out"]


def check_flash(flash, img):
    want = open(img, "rb").read()
    with open(flash, "rb") as f:
        if f.read(len(want)) != want:
            sys.exit("bench_flash: flash does not hold the image after " + flash)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("MICROT_BUILD", "build"))
    ap.add_argument("--size-kib", type=int, default=256)
    ap.add_argument("--baud", type=int, default=115200)
    ap.add_argument("--turn-latency-us", type=int, default=1000)
    ap.add_argument("--no-reflash", action="store_true")
    ap.add_argument("--blank-pct", type=int, default=25, help="blank pages in the image")
    ap.add_argument("--no-json", action="store_true", help="print only (side experiments)")
    a = ap.parse_args()
    b = os.path.join(ROOT, a.build) if not os.path.isabs(a.build) else a.build
    stm32flash = shutil.which("stm32flash")
    if stm32flash is None:
        sys.exit("bench_flash: stm32flash is not installed (scripts/deps.sh)")
    tmp = tempfile.mkdtemp(prefix="bench-flash-")
    try:
        img = os.path.join(tmp, "image.bin")
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "gen_flash_image.py"),
                        "--chip", "l4r5zi", "--size-kib", str(a.size_kib), "--blank-pct", str(a.blank_pct),
                        "--version", "2.0.0", "--out", img], check=True, stdout=subprocess.DEVNULL)
        print("bench_flash: %d KiB image (%d%% blank pages), L4R5, %d baud 8E1 (11 bits/byte), "
              "%d us per turn" % (a.size_kib, a.blank_pct, a.baud, a.turn_latency_us))

        # Both tools run at the same time, each on its own simulated part: they see the same
        # machine load, and the run takes the longer of the two instead of their sum.
        sim_r, pty_r, flash_r = start_sim(b, tmp, "ref", a.baud, a.turn_latency_us)
        sim_d, pty_d, flash_d = start_sim(b, tmp, "daemon", a.baud, a.turn_latency_us)
        runs = [start_timed([stm32flash, "-m", "8n1", "-b", str(a.baud), "-w", img, "-v", "-S",
                             hex(BASE), pty_r]),
                start_timed([os.path.join(b, "microt-flash"), "-q", pty_d, img])]
        (t_ref, _), (t_d, out) = [finish_timed(r) for r in runs]
        stop_sim(sim_r)
        check_flash(flash_r, img)
        print("bench_flash: stm32flash -w -v   %7.2f s" % t_ref)
        print("bench_flash: daemon flasher     %7.2f s  (%s)" % (t_d, out.strip()))
        t_re = None
        if not a.no_reflash:
            t_re, out = finish_timed(start_timed([os.path.join(b, "microt-flash"), "-q", pty_d,
                                                  img]))
            print("bench_flash: daemon re-flash    %7.2f s  (%s)" % (t_re, out.strip()))
        stop_sim(sim_d)
        check_flash(flash_d, img)

        ratio = t_d / t_ref
        print("bench_flash: flash.time_ratio_vs_stm32flash = %.3f" % ratio)
        if a.no_json:
            return
        bj = os.path.join(ROOT, "scripts", "bench_json.py")
        env = dict(os.environ, BENCH_JSON=os.path.join(b, "bench.json"))
        figs = [("flash.time_ratio_vs_stm32flash", ratio, "ratio"),
                ("flash.daemon_s", t_d, "s"), ("flash.stm32flash_s", t_ref, "s")]
        if t_re is not None:
            figs.append(("flash.daemon_reflash_s", t_re, "s"))
        for name, value, unit in figs:
            subprocess.run(["/usr/bin/python3", bj, name, "%.4f" % value, unit], check=True,
                           env=env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
