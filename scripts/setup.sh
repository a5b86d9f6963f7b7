#!/usr/bin/env bash
# One-command set-up on a fresh Debian/Ubuntu machine: installs what is missing (build tools, LibTorch
# with OpenBLAS when none is found and we are root with apt), the npm packages, builds the addon and
# C++ tests in Release, then installs what only `npm test` needs (Python packages and Chromium; left
# out with --no-test-deps). Safe to re-run.
#   bash scripts/setup.sh [--no-test-deps]      (npm run setup [-- --no-test-deps])
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/find-libtorch.sh

test_deps=1
for arg in "$@"; do
  case "$arg" in
    --no-test-deps) test_deps=0 ;;
    *) echo "tennis-train setup: unknown argument '$arg' (usage: setup.sh [--no-test-deps])" >&2; exit 2 ;;
  esac
done

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# 1. Compiler and CMake.
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
if [ ${#missing[@]} -gt 0 ]; then
  if can_apt; then
    echo "tennis-train setup: installing ${missing[*]}"
    apt_install "${missing[@]}"
  else
    echo "tennis-train setup: missing ${missing[*]}; install them (a C++17 compiler and CMake >= 3.18) and re-run" >&2
    exit 1
  fi
fi

# 2. LibTorch: LIBTORCH / Torch_DIR / CMAKE_PREFIX_PATH, a Python torch, the system one; else Debian's.
if ! torch_dir=$(find_libtorch 2>/tmp/tennis-find-libtorch.err); then
  if can_apt; then
    echo "tennis-train setup: no LibTorch found; installing Debian's libtorch-dev and OpenBLAS (about 1 GB)"
    apt_install libtorch-dev libopenblas0-openmp
    torch_dir=$(find_libtorch)
  else
    cat /tmp/tennis-find-libtorch.err >&2
    echo "(Not root or no apt-get, so it could not be installed automatically.)" >&2
    exit 1
  fi
fi
echo "tennis-train setup: LibTorch at $torch_dir"

# The reference BLAS that libtorch-dev pulls in makes the MADDPG update (bench update) ~7x slower than OpenBLAS.
if [[ "$torch_dir" == /usr/lib/* ]] && ! ls /usr/lib/*/libopenblas*.so* >/dev/null 2>&1 \
   && ! ls /usr/lib/*/openblas*/libopenblas*.so* >/dev/null 2>&1; then
  if can_apt; then
    apt_install libopenblas0-openmp
  else
    echo "tennis-train setup: warning: OpenBLAS not installed; LibTorch will use the slow reference BLAS" >&2
  fi
fi

# 3. npm packages (no network beyond the npm registry; the addon needs no Node headers download).
# better-sqlite3 (tune's study store) compiles from source where no prebuilt binary can be fetched:
# point node-gyp at the local Node headers instead of a download.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then export npm_config_nodedir=/usr; fi
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi

# The plots (scores.png, diagnostics.png) render their text with a system font.
if ! ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1; then
  if can_apt; then
    echo "tennis-train setup: installing fonts-dejavu-core (the plots' text)"
    apt_install fonts-dejavu-core
  else
    echo "tennis-train setup: warning: no DejaVu font (apt-get install fonts-dejavu-core); plots will lack their text" >&2
  fi
fi

# 4. Build the addon, the core library and the C++ tests.
Torch_DIR="$torch_dir" bash scripts/build.sh

# 5. Test-only: what `npm test` runs beyond Node and the addon. Each Debian package, how to tell it is
# there, and the tests that skip (saying why) without it.
python=/usr/bin/python3
chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
python_has() { [ -x "$python" ] && "$python" -c "import $1" >/dev/null 2>&1; }
test_dep_present() {
  case "$1" in
    python3-torch) python_has torch ;;
    python3-numpy) python_has numpy ;;
    python3-zmq) python_has zmq ;;
    python3-pil) python_has PIL ;;
    python3-onnx) python_has onnx ;;
    postgresql) ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 ;;
    chromium) [ -x "$chromium" ] ;;
  esac
}
test_dep_users() {
  case "$1" in
    python3-torch) echo "test/maddpg/parity.test.ts (parity with the PyTorch reference): $python lacks torch" ;;
    python3-numpy) echo "test/maddpg/parity.test.ts, test/bridge/python.test.ts: $python lacks numpy" ;;
    python3-zmq) echo "test/bridge/python.test.ts (the bridge's Python side): $python lacks zmq" ;;
    python3-pil) echo "test/watch/gif.test.ts (GIF read back by Pillow): $python lacks PIL" ;;
    python3-onnx) echo "test/export (exported ONNX files through onnx.checker): $python lacks onnx" ;;
    postgresql) echo "test/tune (studies shared through PostgreSQL): no PostgreSQL server binaries" ;;
    chromium) echo "test/e2e/dashboard.test.ts (dashboard in headless Chromium): no Chromium at $chromium" ;;
  esac
}
test_missing=()
for package in python3-torch python3-numpy python3-zmq python3-pil python3-onnx postgresql chromium; do
  test_dep_present "$package" || test_missing+=("$package")
done
if [ ${#test_missing[@]} -eq 0 ]; then
  echo "tennis-train setup: test dependencies present (Python torch, numpy, zmq, Pillow, onnx; PostgreSQL; Chromium)"
elif [ $test_deps = 1 ] && can_apt; then
  echo "tennis-train setup: installing what only npm test needs: ${test_missing[*]} (several hundred MB; --no-test-deps leaves them out)"
  apt_install "${test_missing[@]}"
else
  if [ $test_deps = 0 ]; then why="--no-test-deps"; else why="not root or no apt-get"; fi
  echo "tennis-train setup: test-only packages not installed ($why): ${test_missing[*]}. npm test will skip, saying why:"
  for package in "${test_missing[@]}"; do echo "  - $(test_dep_users "$package")"; done
  echo "  (as root: apt-get install ${test_missing[*]})"
fi
echo "tennis-train setup: done. Try: npx tennis-train info"
