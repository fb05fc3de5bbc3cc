#!/usr/bin/env bash
# Runs each libFuzzer target for FUZZ_SECONDS, starting from its seed corpus in tests/fuzz/corpus/NAME
# (if any) and keeping what it learns in $B/fuzz/corpus/NAME. Fails if any target finds a crash.
set -u
B=${B:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
status=0
for bin in "$@"; do
  name=$(basename "$bin")
  work="$B/fuzz/corpus/$name"; mkdir -p "$work" "$B/fuzz/crashes"
  seeds=tests/fuzz/corpus/$name
  [ -d "$seeds" ] || seeds=
  echo "== fuzz $name for ${FUZZ_SECONDS}s"
  if ! "$bin" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -artifact_prefix="$B/fuzz/crashes/$name-" \
       "$work" $seeds >"$B/fuzz/$name.log" 2>&1; then
    echo "fuzz $name: FOUND A CRASH (see $B/fuzz/$name.log)"; tail -n 30 "$B/fuzz/$name.log"; status=1
  else
    grep -E 'stat::number_of_executed_units|cov:' "$B/fuzz/$name.log" | tail -n 2
  fi
done
exit $status
