#!/usr/bin/env bash
# Proves the portable core is a firmware core: it was compiled for Cortex-M4F and Cortex-M7 with
# -Werror (the Makefile did that); here we check that nothing in it reaches for the heap or libc
# I/O, and print its code and static RAM size per CPU.
set -euo pipefail
status=0
for lib in "$@"; do
  cpu=$(basename "$(dirname "$lib")")
  # Symbols the core may not use: allocation, stdio, OS calls.
  bad=$(arm-none-eabi-nm -u "$lib" | awk '{print $2}' | sort -u |
        grep -E '^(malloc|calloc|realloc|free|printf|fprintf|sprintf|snprintf|vsnprintf|puts|putchar|fopen|fwrite|fread|open|read|write|close|_sbrk|sbrk|time|clock|exit|abort)$' || true)
  if [ -n "$bad" ]; then
    echo "firmware-check: $cpu core uses forbidden symbols: $bad"; status=1
  fi
  arm-none-eabi-size -t "$lib" | tail -n 1 | awk -v cpu="$cpu" \
    '{printf "firmware-check: cortex-%s core: code %d B (text), static RAM %d B (data %d + bss %d)\n", cpu, $1, $2+$3, $2, $3}'
done
exit $status
