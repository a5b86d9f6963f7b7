#!/usr/bin/env bash
# GPU-machine check for the native update: builds the core, the C++ tests and the benches against the
# CUDA LibTorch of the machine's Python torch (no node needed), runs
# the C++ tests (the graph update's included) and the reference parity there, then the update bench --
# LibTorch and CUDA graphs of k updates on the card, LibTorch and fused on the CPU -- and the PyTorch
# reference on the same card and CPU, and prints the ratios.
# It leaves summary.txt, tests.txt, bench.json and the build logs in $OUT (default /tmp/tennis-gpu-check),
# scratch files in $SCRATCH (default /tmp/tennis-gpu-scratch). Run from anywhere:
#   OUT=/tmp/out SECONDS_PER_ROW=3 scripts/gpu-check.sh
#   NODE=/tmp/node CLI=.devnode/cli.mjs OUT=/tmp/out scripts/gpu-check.sh   (also trains; see the end)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/tennis-gpu-check}"
seconds="${SECONDS_PER_ROW:-3}"
py="${PYTHON:-python3}"
scratch="${SCRATCH:-/tmp/tennis-gpu-scratch}"
mkdir -p "$out" "$scratch"
log() { echo "gpu-check: $*" | tee -a "$out/summary.txt"; }

prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)') || { log "no torch for $py"; exit 1; }
"$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
          torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device")' | tee -a "$out/summary.txt"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

log "configure + build (build-gpu, Torch from $prefix)"
if ! cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" "${generator[@]}" \
    >"$out/cmake.log" 2>&1; then
  log "cmake failed (cmake.log)"; tail -20 "$out/cmake.log"; exit 1
fi
if ! cmake --build build-gpu -j"$(nproc)" >"$out/build.log" 2>&1; then
  log "build failed (build.log)"; grep -m20 -E "error" "$out/build.log"; exit 1
fi

log "C++ tests"
./build-gpu/tennis_core_tests >"$out/tests.txt" 2>&1; log "tests exit $? ($(tail -1 "$out/tests.txt"))"
for variant in maddpg matd3; do
  "$py" bench/reference/maddpg_ref.py dump "$scratch/parity-$variant" --variant "$variant" --updates 10 --batch 64 \
    && TENNIS_PARITY_DIR="$scratch/parity-$variant" ./build-gpu/tennis_core_tests parity 2>&1 \
      | grep -E "parity|passed" | tee -a "$out/summary.txt"
done

log "update bench, ${seconds} s per row"
./build-gpu/bench_update --device cuda --impl libtorch,graph --k "${GRAPH_K:-1,2,16,64}" --threads 1 \
  --seconds "$seconds" | tee "$scratch/native_cuda.jsonl"
./build-gpu/bench_update --device cpu --impl libtorch,fused --threads 1,2 --seconds "$seconds" | tee "$scratch/native_cpu.jsonl"
"$py" bench/reference/bench_update_ref_device.py --device cuda --threads 1 --seconds "$seconds" | tee "$scratch/reference_cuda.jsonl"
"$py" bench/reference/bench_update_ref.py --threads 1,2 --seconds "$seconds" | tee "$scratch/reference_cpu.jsonl"

"$py" - "$out" "$scratch" <<'PY' | tee -a "$out/summary.txt"
import json, pathlib, sys
out, scratch = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
rows = []
for name in ("native_cuda", "native_cpu", "reference_cuda", "reference_cpu"):
    path = scratch / (name + ".jsonl")
    if path.exists():
        rows += [dict(json.loads(line), device=json.loads(line).get("device", "cpu"))
                 for line in path.read_text().splitlines() if line.startswith("{")]
rate = {(r["impl"], r["device"].split(":")[0], r["threads"], r.get("k", 1)): r["updates_per_s"] for r in rows}
for key, value in sorted(rate.items()):
    print("%-10s %-5s threads %d  k %3d  %9.1f updates/s" % (key[0], key[1], key[2], key[3], value))
def ratio(a, b):
    return "%.2fx" % (rate[a] / rate[b]) if a in rate and b in rate else "n/a"
print("libtorch cuda / reference cuda:", ratio(("libtorch", "cuda", 1, 1), ("reference", "cuda", 1, 1)))
for k in sorted({key[3] for key in rate if key[0] == "graph"}):
    print("graph cuda, k=%d / reference cuda: %s" % (k, ratio(("graph", "cuda", 1, k), ("reference", "cuda", 1, 1))))
for t in (1, 2):
    print("fused cpu / reference cpu, %d thread(s): %s" % (t, ratio(("fused", "cpu", t, 1), ("reference", "cpu", t, 1))))
(out / "bench.json").write_text(json.dumps(rows, indent=1))
PY

# Optional: with NODE (a node binary) and CLI (the CLI as one file from scripts/bundle-cli.sh, which runs
# without npm; node_modules/node-addon-api and node_modules/node-api-headers must be there too),
# build the addon against the CUDA LibTorch and train the default config until solved on CUDA (auto impl =
# graph) and, beside it, on the CPU (fused), same seed.
if [ -n "${NODE:-}" ] && [ -n "${CLI:-}" ]; then
  mkdir -p "$scratch/bin" && ln -sf "$(realpath "$NODE")" "$scratch/bin/node" && export PATH="$scratch/bin:$PATH"
  log "addon (node $(node --version))"
  if ! cmake -S . -B build-gpu -DCMAKE_JS_INC="$PWD/node_modules/node-api-headers/include" >>"$out/cmake.log" 2>&1 \
      || ! cmake --build build-gpu -j"$(nproc)" --target tennis_train >>"$out/build.log" 2>&1; then
    log "addon build failed (cmake.log, build.log)"; grep -m20 -E "error" "$out/build.log"; exit 1
  fi
  export TENNIS_TRAIN_ADDON="$PWD/build-gpu/tennis_train.node"
  node "$CLI" info 2>&1 | tee -a "$out/summary.txt"
  seed="${TRAIN_SEED:-0}"
  for device in cuda cpu; do
    timeout "${TRAIN_SECONDS:-240}" node "$CLI" train --device "$device" --seed "$seed" --threads 2 --no-tensorboard \
      --runs-dir "$scratch/runs-$device" >"$scratch/train-$device.log" 2>&1 &
  done
  wait
  for device in cuda cpu; do
    log "train --device $device --seed $seed: $(grep -E "Solved|Not solved|Error|error" "$scratch/train-$device.log" | tail -2)"
    tail -3 "$scratch/train-$device.log"
  done
fi
