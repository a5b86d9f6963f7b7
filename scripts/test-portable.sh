#!/usr/bin/env bash
# Runs the C++ core tests as other CPUs would: under each OpenBLAS kernel set Debian's OpenBLAS can be
# forced to (OPENBLAS_CORETYPE: what LibTorch's products round like) and at each fused kernel level
# this CPU can run (AVX-512, AVX2, portable). Prints one line per combination and exits non-zero if
# any failed. Usage: scripts/test-portable.sh [test name filter]
set -uo pipefail
cd "$(dirname "$0")/.."
filter=${1:-}
core_types=(Haswell Zen SkylakeX Cooperlake Prescott)
# name and environment of each fused kernel level (levels the CPU lacks fall back to the next one).
levels=("best:" "avx2:TENNIS_FUSED_NO_AVX512=1" "portable:TENNIS_FUSED_PORTABLE=1")
failed=0
for core in "${core_types[@]}"; do
  for entry in "${levels[@]}"; do
    name=${entry%%:*}
    setting=${entry#*:}
    log=$(mktemp)
    env OPENBLAS_CORETYPE="$core" ${setting:+"$setting"} bash scripts/test-cpp.sh $filter >"$log" 2>&1
    rc=$?
    printf 'OPENBLAS_CORETYPE=%-10s fused kernels %-8s %s\n' "$core" "$name" "$(tail -n 1 "$log")"
    if [ $rc -ne 0 ]; then
      failed=$((failed + 1))
      grep -A1 '^FAIL' "$log" | sed 's/^/    /'
    fi
    rm -f "$log"
  done
done
total=$((${#core_types[@]} * ${#levels[@]}))
echo "portable: $((total - failed)) passed, $failed failed"
[ $failed -eq 0 ]
