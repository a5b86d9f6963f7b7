#!/usr/bin/env bash
# find_libtorch: prints the directory holding TorchConfig.cmake, trying in order
#   1. $LIBTORCH (an unzipped libtorch), $Torch_DIR, each entry of $CMAKE_PREFIX_PATH
#   2. a Python torch's CMake prefix (python3, then /usr/bin/python3)
#   3. the system LibTorch (Debian's libtorch-dev)
# On failure it prints what it tried to stderr and returns 1. Source this file, then call it.
find_libtorch() {
  local tried=() candidate prefix py
  check_dir() {  # $1 = a directory that may hold TorchConfig.cmake directly or under share/cmake/Torch
    local d
    for d in "$1" "$1/share/cmake/Torch" "$1/lib/cmake/Torch" "$1/Torch"; do
      if [ -f "$d/TorchConfig.cmake" ]; then echo "$d"; return 0; fi
    done
    tried+=("$1 (no TorchConfig.cmake there)")
    return 1
  }
  [ -n "${LIBTORCH:-}" ] && check_dir "$LIBTORCH" && return 0
  [ -n "${Torch_DIR:-}" ] && check_dir "$Torch_DIR" && return 0
  if [ -n "${CMAKE_PREFIX_PATH:-}" ]; then
    local IFS=':'
    for prefix in $CMAKE_PREFIX_PATH; do check_dir "$prefix" && return 0; done
    unset IFS
  fi
  for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null 2>&1; then
      prefix=$("$py" -c 'import torch, torch.utils; print(torch.utils.cmake_prefix_path)' 2>/dev/null) \
        && check_dir "$prefix" && return 0
      [ -z "${prefix:-}" ] && tried+=("$py: no importable torch")
    fi
  done
  for candidate in /usr/lib/*/cmake/Torch /usr/local/lib/cmake/Torch /usr/share/cmake/Torch; do
    [ -f "$candidate/TorchConfig.cmake" ] && { echo "$candidate"; return 0; }
  done
  tried+=("system paths /usr/lib/*/cmake/Torch, /usr/local/lib/cmake/Torch")
  {
    echo "tennis-train: LibTorch not found. Tried:"
    printf '  - %s\n' "${tried[@]}"
    echo "Fix: run 'npm run setup' as root on Debian/Ubuntu (installs libtorch-dev), or set LIBTORCH to an"
    echo "unzipped libtorch folder, or Torch_DIR to the folder holding TorchConfig.cmake."
  } >&2
  return 1
}
