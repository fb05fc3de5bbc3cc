#!/usr/bin/env bash
# Engine benchmarks (make bench): peak arena of mcunet-vww1-80 (whole model) and instructions per
# MAC under callgrind for proxyless-w0.3 and mcunet-5fps (whole model, cut after block 8 so stage 1
# and stage 2 are counted apart). Prints each figure and merges it into $B/bench.json.
set -eu
B=${B:-build}
SHARED=${MICROT_SHARED:-../shared}
BENCH=$B/engine_bench
M=$SHARED/models
if [ ! -d "$M" ]; then echo "bench-engine: $M absent, skipped"; exit 0; fi
val() { sed -n "s/^$1=//p" "$2"; }

out=$B/bench-engine; mkdir -p "$out"
"$BENCH" "$M/mcunet-vww1-80.tflite" --whole >"$out/vww1.txt"
arena=$(val arena_bytes "$out/vww1.txt")
echo "engine: mcunet-vww1-80 whole model peak arena $arena B (TFLM 219,784 B, TinyEngine 92 kB)"
./scripts/bench_json.py engine.arena_peak_bytes.mcunet-vww1-80 "$arena" bytes

for model in proxyless-w0.3 mcunet-5fps; do
  "$BENCH" "$M/$model.tflite" --whole --cut blocks.8 >"$out/$model.txt"
  m1=$(val macs_stage1 "$out/$model.txt"); m2=$(val macs_stage2 "$out/$model.txt")
  for s in 1 2; do
    valgrind --tool=callgrind --toggle-collect=engine_run_stage$s \
      --callgrind-out-file="$out/$model.stage$s.cg" "$BENCH" "$M/$model.tflite" --whole \
      --cut blocks.8 >/dev/null 2>"$out/$model.stage$s.log"
  done
  i1=$(sed -n 's/^totals: //p' "$out/$model.stage1.cg" | awk '{print $1}')
  i2=$(sed -n 's/^totals: //p' "$out/$model.stage2.cg" | awk '{print $1}')
  per1=$(awk -v i="$i1" -v m="$m1" 'BEGIN{printf "%.3f", i/m}')
  per2=$(awk -v i="$i2" -v m="$m2" 'BEGIN{printf "%.3f", i/m}')
  perw=$(awk -v a="$i1" -v b="$i2" -v m="$m1" -v n="$m2" 'BEGIN{printf "%.3f", (a+b)/(m+n)}')
  arena=$(val arena_bytes "$out/$model.txt"); arena1=$(val arena_stage1_bytes "$out/$model.txt")
  echo "engine: $model (cut blocks.8): stage 1 $i1 instr / $m1 MACs = $per1 instr/MAC;" \
       "stage 2 $i2 instr / $m2 MACs = $per2; whole $((i1 + i2)) instr = $perw instr/MAC;" \
       "arena stage 1 $arena1 B, stage 1+2 $arena B"
  ./scripts/bench_json.py "engine.instr_per_mac.$model" "$perw" instr/MAC
  ./scripts/bench_json.py "engine.instr.$model" "$((i1 + i2))" instr
  ./scripts/bench_json.py "engine.instr.stage1.$model" "$i1" instr
  ./scripts/bench_json.py "engine.instr.stage2.$model" "$i2" instr
  ./scripts/bench_json.py "engine.instr_per_mac.stage1.$model" "$per1" instr/MAC
  ./scripts/bench_json.py "engine.instr_per_mac.stage2.$model" "$per2" instr/MAC
  ./scripts/bench_json.py "engine.arena_peak_bytes.$model" "$arena" bytes
done
