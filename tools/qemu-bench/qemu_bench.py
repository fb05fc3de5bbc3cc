#!/usr/bin/python3
"""qemu_bench.py — runs the int8 engine on the QEMU Cortex-M targets and reports what it
measured: instructions per stage and per MAC (under -icount shift=0 one guest cycle is one
instruction, firmware/ports/mps2/mps2_hal.c), and whether the ARM results equal the host
engine's and TFLite Micro's reference outputs byte for byte.

    qemu_bench.py [--build build] [--shared ../shared] [--boards qemu-an386,qemu-an500]
                  [--models mcunet-vww1-80,proxyless-w0.3] [--variant NAME] [--json]

--variant ref runs bench-ref.elf (the core built with -DNN_NO_SIMD: the plain C reference
kernels) and suffixes the figure names with .ref. For each model, build/firmware/bench-prep imports the .tflite (classifier kept, so stage 2 ends
at the model's output) and runs it on the host; then each board's bench.elf loads the same image
into its model slot A through the flash HAL, runs stage 1 and stage 2, and writes its features
and output through semihosting. Prints one line per run. With --json, also merges the figures
into build/bench.json through scripts/bench_json.py:
    engine.<cpu>.instr_per_mac.<model>[.<variant>]         whole model
    engine.<cpu>.instr.<model>.stage1|stage2|total[.<variant>]
Exit 0 when every run matched, 1 on a mismatch or failure, 77 when the models are absent.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MACHINES = {"qemu-an386": ("mps2-an386", "m4"), "qemu-an500": ("mps2-an500", "m7")}
# model -> (tflite, manifest input file, cut, float input, TFLM output file, its dtype)
MODELS = {
    "mcunet-vww1-80": ("mcunet-vww1-80.tflite", "mcunet-vww1-80.person.input.bin", "-", True,
                       "mcunet-vww1-80.person.output0.bin", "float32"),
    "proxyless-w0.3": ("proxyless-w0.3.tflite", "proxyless-w0.3.rand.input.bin", "blocks.8", False,
                       "proxyless-w0.3.rand.classifier.out.bin", "int8"),
}
PROFILE = re.compile(r"profile kind=(\w+) macs=(\d+) cycles=(\d+)")
LINE = re.compile(r"bench stage1_macs=(\d+) stage1_cycles=(\d+) stage2_macs=(\d+) "
                  r"stage2_cycles=(\d+)")


def run(cmd, timeout_s):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def bench_one(build, shared, board, model, workdir, prep, timeout_s, variant):
    tflite, inp, cut, f32, ref_file, ref_dtype = MODELS[model]
    machine, cpu = MACHINES[board]
    inp_path = os.path.join(shared, "models", "expected", inp)
    out = os.path.join(workdir, f"{board}")
    sh = ",".join(["enable=on", "target=native", "arg=bench", f"arg=image={workdir}/image.bin",
                   f"arg=input={inp_path}", f"arg=out={out}", f"arg=f32={1 if f32 else 0}",
                   "arg=profile=1"])
    elf = "bench-ref.elf" if variant == "ref" else "bench.elf"
    r = run(["qemu-system-arm", "-M", machine, "-nographic", "-monitor", "none", "-serial", "null",
             "-icount", "shift=0", "-semihosting-config", sh, "-kernel",
             os.path.join(build, "firmware", board, elf)], timeout_s)
    m = LINE.search(r.stdout + r.stderr)
    if r.returncode != 0 or not m:
        return {"ok": False, "why": f"{board}: bench.elf exit {r.returncode}: "
                                    f"{(r.stdout + r.stderr).strip()[-300:]}"}
    m1, c1, m2, c2 = (int(x) for x in m.groups())
    kinds = {k: (int(mm), int(cc)) for k, mm, cc in PROFILE.findall(r.stdout + r.stderr)}
    problems = []
    for suffix in ("part.f32", "full.f32", "output.i8"):
        host, arm = os.path.join(workdir, f"host.{suffix}"), f"{out}.{suffix}"
        if not os.path.exists(arm) or read(host) != read(arm):
            problems.append(f"{suffix} differs from the host engine")
    ref = read(os.path.join(shared, "models", "expected", ref_file))
    got = np.frombuffer(read(f"{out}.output.i8"), dtype=np.int8) if os.path.exists(
        f"{out}.output.i8") else np.zeros(0, np.int8)
    if ref_dtype == "int8":
        same_ref = got.tobytes() == ref
    else:  # DEQUANTIZE folded: scale * (q - zp) in float32, as the engine's consumers compute it
        deq = np.float32(prep["output_scale"]) * (got.astype(np.int32) -
                                                  prep["output_zero_point"]).astype(np.float32)
        same_ref = deq.astype(np.float32).tobytes() == ref
    if not same_ref:
        problems.append("output differs from TFLite Micro's reference")
    return {"ok": not problems, "why": "; ".join(problems), "cpu": cpu, "macs": (m1, m2),
            "instr": (c1, c2), "kinds": kinds}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("MICROT_BUILD", "build"))
    ap.add_argument("--shared", default=os.environ.get("MICROT_SHARED",
                                                       os.path.join(ROOT, "..", "shared")))
    ap.add_argument("--boards", default="qemu-an386,qemu-an500")
    ap.add_argument("--models", default="mcunet-vww1-80,proxyless-w0.3")
    ap.add_argument("--variant", default="",
                    help="ref: bench-ref.elf, the plain C reference kernels (-DNN_NO_SIMD)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--timeout", type=float, default=300.0)
    a = ap.parse_args()
    if not os.path.isdir(os.path.join(a.shared, "models", "expected")):
        print(f"SKIP: {a.shared}/models/expected absent (set MICROT_SHARED)")
        return 77
    failed = 0
    per_kind = {}  # (cpu, category) -> [macs, instr] summed over the models
    for model in a.models.split(","):
        tflite, inp, cut, f32, _, _ = MODELS[model]
        with tempfile.TemporaryDirectory(prefix="microt-bench-") as wd:
            r = run([os.path.join(a.build, "firmware", "bench-prep"),
                     os.path.join(a.shared, "models", tflite), cut,
                     os.path.join(a.shared, "models", "expected", inp), "1" if f32 else "0", wd],
                    a.timeout)
            if r.returncode != 0:
                print(f"FAIL {model}: bench-prep: {r.stderr.strip()}")
                failed += 1
                continue
            prep = json.loads(r.stdout)
            for board in a.boards.split(","):
                res = bench_one(a.build, a.shared, board, model, wd, prep, a.timeout, a.variant)
                if not res["ok"]:
                    print(f"FAIL {model} on {board}: {res['why']}")
                    failed += 1
                    continue
                (m1, m2), (c1, c2), cpu = res["macs"], res["instr"], res["cpu"]
                ipm = (c1 + c2) / (m1 + m2)
                tag = f" [{a.variant}]" if a.variant else ""
                print(f"ok   {model} on {board} ({cpu}){tag}: stage1 {c1} instr / {m1} MACs, "
                      f"stage2 {c2} / {m2}, total {c1 + c2} instr, {ipm:.3f} instr/MAC; "
                      f"equal to host engine and TFLM output")
                for kind, (km, kc) in res["kinds"].items():
                    tot = per_kind.setdefault((cpu, kind), [0, 0])
                    tot[0] += km
                    tot[1] += kc
                if a.json:
                    suffix = f".{a.variant}" if a.variant else ""
                    figures = [(f"engine.{cpu}.instr_per_mac.{model}{suffix}", f"{ipm:.4f}",
                                "instr/MAC"),
                               (f"engine.{cpu}.instr.{model}.stage1{suffix}", c1, "instr"),
                               (f"engine.{cpu}.instr.{model}.stage2{suffix}", c2, "instr"),
                               (f"engine.{cpu}.instr.{model}.total{suffix}", c1 + c2, "instr")]
                    for name, value, unit in figures:
                        subprocess.run([sys.executable, os.path.join(ROOT, "scripts",
                                                                     "bench_json.py"),
                                        "--file", os.path.join(a.build, "bench.json"), name,
                                        str(value), unit], check=True)
    # Per op category, over all models: what the simulator's cost model (firmware/core/energy.c,
    # op_millicycles per category) is recalibrated from, see docs/ports.md.
    for (cpu, kind), (km, kc) in sorted(per_kind.items()):
        if km == 0:
            continue
        tag = f".{a.variant}" if a.variant else ""
        print(f"     {cpu} {kind:9s}: {kc / km:.3f} instr per MAC ({kc} instr / {km} MACs){tag}")
        if a.json:
            subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "bench_json.py"),
                            "--file", os.path.join(a.build, "bench.json"),
                            f"engine.{cpu}.instr_per_mac_op.{kind}{tag}", f"{kc / km:.4f}",
                            "instr/MAC"], check=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
