#!/usr/bin/env bash
# Runs the C++ core tests built by `npm run build` (they link the core alone, no N-API).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/tennis_core_tests
[ -x "$bin" ] || bin=build/Release/tennis_core_tests
if [ ! -x "$bin" ]; then
  echo "tennis-train: $bin not built; run 'npm run setup' (or 'npm run build') first" >&2
  exit 1
fi
"$bin" "$@"
