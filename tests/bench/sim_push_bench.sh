#!/usr/bin/env bash
# Model push throughput into microt-sim over its paced line (make bench-sim-push): the whole
# ProxylessNAS-w0.3 image at 921600 baud with 1 ms turn latency, its first 120 KB at 115200 baud
# with 16 ms (the whole image would take 35 s), 2 KiB chunks, window 4; and the same line with 1 KiB
# chunks and with stop-and-wait for comparison. Prints each figure and merges it into
# $B/bench.json as sim.push_efficiency.*.
set -eu
B=${B:-build}
run() {  # name baud latency_us bytes chunk window
  local out
  out=$(MICROT_BUILD=$B "$B/sim-push-bench" "$2" "$3" "$4" "$5" "$6")
  case $out in *skipped*) echo "$out"; return 0 ;; esac
  local eff ms bytes
  eff=$(sed -n 's/^efficiency=//p' <<<"$out"); ms=$(sed -n 's/^ms=//p' <<<"$out")
  bytes=$(sed -n 's/^bytes=//p' <<<"$out")
  echo "sim push: $2 baud, turn latency $3 us, chunk $5 B, window $6: $bytes B in $ms ms, payload/line = $eff"
  ./scripts/bench_json.py "sim.push_efficiency.$1" "$eff" ratio
}
run 921600 921600 1000 0 2048 4
run 115200 115200 16000 120000 2048 4
run 921600_chunk1024 921600 1000 200000 1024 4
run 921600_stop_and_wait 921600 1000 100000 2048 1
