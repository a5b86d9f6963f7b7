#!/usr/bin/env bash
# Checks that the C++ sources under native/ (*.h, *.cc, *.inc) match .clang-format. The binary is the
# `clang-format` npm package's (devDependencies), so every machine formats with the same version;
# CLANG_FORMAT=/path/to/clang-format overrides it. Exits 1 listing the files that differ.
# `--fix` rewrites those files in place instead.
set -euo pipefail
cd "$(dirname "$0")/.."
clang_format=${CLANG_FORMAT:-node_modules/.bin/clang-format}
if [ ! -x "$clang_format" ]; then
  echo "check-format: $clang_format not found; run 'npm install' (or set CLANG_FORMAT)" >&2
  exit 2
fi
mapfile -t files < <(find native -type f \( -name '*.h' -o -name '*.cc' -o -name '*.inc' \) | LC_ALL=C sort)
if [ "${1:-}" = "--fix" ]; then
  "$clang_format" -i --style=file "${files[@]}"
  exit 0
fi
status=0
report=$("$clang_format" --dry-run --Werror --style=file "${files[@]}" 2>&1) || status=$?
[ "$status" -eq 0 ] && exit 0
differ=$(printf '%s\n' "$report" | sed -nE 's/^([^:]+):[0-9]+:[0-9]+: (error|warning): code should be clang-formatted.*/\1/p' |
  LC_ALL=C sort -u)
if [ -z "$differ" ]; then
  printf '%s\n' "$report" >&2
  exit 2
fi
echo "check-format: these files differ from .clang-format (fix: bash scripts/check-format.sh --fix):" >&2
printf '%s\n' "$differ"
exit 1
