#!/usr/bin/env bash
# Runs every test suite: the cmocka binaries in $B/tests/ and the Python checks tests/test_*.py
# (exit 0 pass, 77 skip, else fail). Each suite runs in its own process with a time limit, its
# output kept in $B/test-logs/. Ends with one summary line: "tests: N passed, N failed, N skipped".
set -u
B=${B:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
SUITE_TIMEOUT_S=${SUITE_TIMEOUT_S:-300}
ONLY=${ONLY:-}
mkdir -p "$B/test-logs"
passed=0 failed=0 skipped=0
failed_suites=()

run_suite() {  # name, command...
  local name=$1; shift
  local log="$B/test-logs/$name.log"
  local t0=$(date +%s)
  timeout --kill-after=10 "$SUITE_TIMEOUT_S" "$@" >"$log" 2>&1
  local rc=$?
  local dt=$(( $(date +%s) - t0 ))
  echo "== $name (${dt}s, exit $rc)"
  grep -E '^\[  (PASSED|FAILED|SKIPPED) |^\[  (ERROR|FAILED)  \]|^SKIP|^FAIL|^ok|^PASS' "$log" | head -n 20 | sed 's/^/   /'
  if grep -q '^\[==========\] .* test(s) run\.' "$log"; then
    local p f s
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END{print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END{print s+0}')
    s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END{print s+0}')
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
    if [ "$rc" -ne 0 ]; then failed_suites+=("$name"); tail -n 40 "$log" | sed 's/^/   | /'; fi
  else
    case $rc in
      0) passed=$((passed + 1)) ;;
      77) skipped=$((skipped + 1)); tail -n 3 "$log" | sed 's/^/   | /' ;;
      *) failed=$((failed + 1)); failed_suites+=("$name"); tail -n 40 "$log" | sed 's/^/   | /' ;;
    esac
  fi
}

for t in "$B"/tests/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  [ -n "$ONLY" ] && [[ "$name" != *"$ONLY"* ]] && continue
  run_suite "$name" env MICROT_BUILD="$B" "$t"
done
for t in tests/test_*.py; do
  [ -f "$t" ] || continue
  name=$(basename "$t" .py)
  [ -n "$ONLY" ] && [[ "$name" != *"$ONLY"* ]] && continue
  run_suite "$name" env MICROT_BUILD="$B" "$PYTHON" "$t"
done

[ ${#failed_suites[@]} -gt 0 ] && echo "failed suites: ${failed_suites[*]}"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
