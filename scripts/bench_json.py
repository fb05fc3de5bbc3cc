#!/usr/bin/python3
"""Merges one benchmark figure into build/bench.json as {"name": {"value": V, "unit": "U"}}.

usage: bench_json.py [--file build/bench.json] NAME VALUE UNIT
Every `make bench` step calls this for each figure it printed, so the file always holds the
figures of the latest run of each benchmark.
"""
import json, os, sys

def main(argv):
    path = os.environ.get("BENCH_JSON", "build/bench.json")
    if len(argv) >= 2 and argv[0] == "--file":
        path, argv = argv[1], argv[2:]
    if len(argv) != 3:
        sys.exit("usage: bench_json.py [--file F] NAME VALUE UNIT")
    name, value, unit = argv
    data = {}
    if os.path.exists(path):
        with open(path) as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError:
                data = {}
    data[name] = {"value": float(value), "unit": unit}
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)

if __name__ == "__main__":
    main(sys.argv[1:])
