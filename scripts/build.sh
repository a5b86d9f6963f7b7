#!/usr/bin/env bash
# Builds the addon, the core library and the C++ tests in Release with cmake-js (no download: the
# node-api-headers package supplies the headers). LibTorch is located by scripts/find-libtorch.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/find-libtorch.sh
torch_dir=$(find_libtorch) || exit 1
jobs=${TENNIS_BUILD_JOBS:-$(nproc)}
echo "tennis-train: building with Torch_DIR=$torch_dir ($jobs jobs)"
npx --no-install cmake-js compile --release --out build --parallel "$jobs" --CDTorch_DIR="$torch_dir"
