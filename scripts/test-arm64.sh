#!/usr/bin/env bash
# Builds the fused kernels and their tests (native/tests/test_kernels.cc: no LibTorch) for arm64 with
# Debian's cross compiler and runs them under qemu-user: the portable kernels on a CPU without the x86
# code, with the same checksum as x86. Installs g++-aarch64-linux-gnu and qemu-user where root with
# apt; elsewhere it says what is missing and exits 0 without testing.
set -euo pipefail
cd "$(dirname "$0")/.."
cxx=aarch64-linux-gnu-g++
if ! command -v "$cxx" >/dev/null 2>&1 || ! command -v qemu-aarch64 >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "tennis-train: installing g++-aarch64-linux-gnu and qemu-user for the arm64 kernel tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends g++-aarch64-linux-gnu qemu-user >/dev/null
  else
    echo "tennis-train: arm64 kernel tests skipped: $cxx or qemu-aarch64 missing (apt-get install g++-aarch64-linux-gnu qemu-user)"
    exit 0
  fi
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The core's own floating-point flags (CMakeLists.txt): no FMA contraction.
"$cxx" -std=c++17 -O2 -ffp-contract=off -fopenmp -static -Inative/core -Inative/tests \
  native/core/fused/kernels.cc native/core/fused/tiles_x86.cc native/core/noise.cc native/core/rng.cc \
  native/tests/test_kernels.cc native/tests/test_main.cc -o "$out/test_kernels" 2> >(grep -v "dlopen\|oacc-profiling" >&2)
echo "arm64 (qemu-aarch64):"
qemu-aarch64 "$out/test_kernels"
