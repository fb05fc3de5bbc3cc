#!/usr/bin/env bash
# Seeds the fuzz_tflite_reader corpus: the real models from $MICROT_SHARED/models (default
# ../shared) when present, and the generated good/bad cases of tests/data/gen_bad_tflite.py.
# Writes tests/fuzz/corpus/fuzz_tflite_reader/ (git-ignored: model files are never committed).
set -eu
cd "$(dirname "$0")/../.."
SHARED=${MICROT_SHARED:-../shared}
out=tests/fuzz/corpus/fuzz_tflite_reader
mkdir -p "$out"
if [ -d "$SHARED/models" ]; then
  for f in "$SHARED"/models/*.tflite; do cp "$f" "$out/"; done
else
  echo "make_tflite_corpus: $SHARED/models absent, seeding with generated cases only"
fi
tmp=$(mktemp -d)
/usr/bin/python3 tests/data/gen_bad_tflite.py "$tmp"
# the large shared-table cases only slow the fuzzer down; the cmocka suite covers them
for f in "$tmp"/*.tflite; do
  [ "$(stat -c %s "$f")" -le 65536 ] && cp "$f" "$out/gen_$(basename "$f")"
done
rm -rf "$tmp"
echo "make_tflite_corpus: $(ls "$out" | wc -l) seeds in $out"
