#!/usr/bin/env bash
# `make run`: the daemon with three simulated boards and the dashboard, in the foreground.
# State (SQLite database, API token, the boards' flash files) lives in $B/run/ and survives
# restarts. Ctrl-C stops everything.
set -euo pipefail
B=${B:-build}
HTTP=${MICROT_HTTP:-127.0.0.1:8080}
RUN="$B/run"
mkdir -p "$RUN/ports"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# Three boards: one of each simulated part, each with its own persistent flash and unique ID.
boards=("h7a3zi 4d5430000000000000000001" "l4r5zi 4d5430000000000000000002" "h7a3zi 4d5430000000000000000003")
i=0
for b in "${boards[@]}"; do
  set -- $b
  "$B/microt-sim" --board "$1" --uid "$2" --pty "$RUN/ports/board-$i" --flash "$RUN/flash-$i.bin" \
    2>>"$RUN/sim-$i.log" &
  pids+=($!)
  i=$((i + 1))
done

"$B/microtd" --http "$HTTP" --db "$RUN/microt.db" --state-dir "$RUN" --web web \
  --port "$RUN/ports/board-*" 2>&1 | tee -a "$RUN/microtd.log" &
pids+=($!)

for _ in $(seq 50); do [ -s "$RUN/token" ] && break; sleep 0.1; done
echo
echo "MicroT gateway: http://$HTTP/"
echo "API token:      $(cat "$RUN/token" 2>/dev/null || echo '(see microtd output)')"
echo "Try:            $B/microtctl --url http://$HTTP devices"
echo "Stop with Ctrl-C."
wait
