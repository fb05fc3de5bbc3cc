#!/usr/bin/python3
"""test_heads_sklearn.py — the board's heads reach sklearn's accuracy on the same real features.

Runs build/microt-results (the board code: int8 engine, feature cache, L-BFGS heads, stage
decision) on a small Fashion-MNIST sample with ProxylessNAS-w0.3 from ../shared/models, fits
sklearn LogisticRegression(C=1, lbfgs) (with the board's standardisation) on the very rows the
board's heads trained on, and requires each board head's test accuracy to be within 1 point of
sklearn's. Skips (77) when the shared models, the dataset or the program are absent.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.environ.get("MICROT_BUILD", os.path.join(ROOT, "build"))
SHARED = os.environ.get("MICROT_SHARED", os.path.join(ROOT, "..", "shared"))
MODEL = os.path.join(SHARED, "models", "proxyless-w0.3.tflite")
DATA = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
PROG = os.path.join(BUILD if os.path.isabs(BUILD) else os.path.join(ROOT, BUILD), "microt-results")


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def main():
    if not os.path.exists(MODEL):
        skip(f"{MODEL} absent (set MICROT_SHARED)")
    if not os.path.exists(os.path.join(DATA, "train-images-idx3-ubyte.gz")):
        skip(f"Fashion-MNIST not in {DATA} (Debian package dataset-fashion-mnist)")
    if not os.path.exists(PROG):
        skip(f"{PROG} not built (make {os.path.relpath(PROG, ROOT)})")
    sys.path.insert(0, os.path.join(ROOT, "tools", "results"))
    import results_report  # noqa: E402  (sklearn fit on the dumped features)

    with tempfile.TemporaryDirectory() as out:
        cmd = [PROG, "--model", MODEL, "--name", "proxyless-w0.3", "--cut", "8",
               "--train-per-class", "40", "--test-per-class", "40", "--seed", "3", "--out", out]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        print(r.stdout.strip())
        if r.returncode != 0:
            print(r.stderr)
            print("FAIL: microt-results failed")
            return 1
        with open(os.path.join(out, "board.json")) as f:
            board = json.load(f)
        ref = results_report.reference(out, board, optimiser_check=False)
    worst = 0.0
    for head in ("part", "full"):
        # The board's head (standardised on the board) vs sklearn on the same objective, and the
        # board's head with standardisation off vs sklearn on raw features.
        for variant, bk, sk in (("standardised", "board", "sklearn_std"),
                                ("raw", "board_raw", "sklearn_raw")):
            b, s = ref[head][bk], ref[head][sk]
            gap = 100.0 * (s - b)
            worst = max(worst, gap)
            print(f"{head} head, {variant} features: board {100 * b:.1f} %, "
                  f"sklearn {100 * s:.1f} %, shortfall {gap:+.2f} pts")
    # The live staged run resumed stage 2 only for unsure images and counted its MACs once.
    live = board["live_r0.5"]
    if live["engine_macs"] != live["expected_macs"]:
        print(f"FAIL: staged run counted {live['engine_macs']} MACs, expected {live['expected_macs']}")
        return 1
    if worst > 1.0:
        print(f"FAIL: a board head is {worst:.2f} pts below sklearn (limit 1)")
        return 1
    print(f"ok: largest shortfall vs sklearn {worst:.2f} pts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
