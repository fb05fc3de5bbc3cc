#!/usr/bin/python3
"""Writes .tflite models for the gateway's fit check (tests/test_integration_workflow.c).

usage: gen_gw5_models.py OUTDIR

big_arena.tflite: the reader suite's tiny int8 CNN (tests/data/gen_bad_tflite.py) with a
512x512x3 input, so its activations (a 786,432 B input, 262,144 B per 256x256x4 layer) need
far more arena than a simulated board has (192 KiB): a valid model the daemon must refuse to
push with 422 and the sizes. Regenerated on each run.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_bad_tflite as g  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_gw5_models.py OUTDIR")
    os.makedirs(sys.argv[1], exist_ok=True)
    m = g.base_model()
    shapes = {"input": [1, 512, 512, 3], "conv.out": [1, 256, 256, 4], "dw.out": [1, 256, 256, 4],
              "add.out": [1, 256, 256, 4]}
    for t in m["subgraphs"][0]["tensors"]:
        if t["name"] in shapes:
            t["shape"] = shapes[t["name"]]
    m["description"] = "gen_gw5_models big_arena"
    data, _ = g.build(m)
    with open(os.path.join(sys.argv[1], "big_arena.tflite"), "wb") as f:
        f.write(bytes(data))


if __name__ == "__main__":
    main()
