#!/usr/bin/env bash
# GPU-machine check for the native update (issue 8; see ../shared/docs/gpu.md): builds the core, the C++
# tests and the benches against the CUDA LibTorch of the machine's Python torch (no node needed), runs
# the C++ tests and the reference parity there, then the update bench -- LibTorch on CUDA, LibTorch and
# fused on the CPU -- and the PyTorch reference on the same card and CPU, and prints the ratios.
# Everything it writes goes to $OUT (default /tmp/tennis-gpu-check). Run from anywhere:
#   OUT=/tmp/out SECONDS_PER_ROW=3 scripts/gpu-check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/tennis-gpu-check}"
seconds="${SECONDS_PER_ROW:-3}"
py="${PYTHON:-python3}"
mkdir -p "$out"
log() { echo "gpu-check: $*" | tee -a "$out/summary.txt"; }

prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)') || { log "no torch for $py"; exit 1; }
"$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
          torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device")' | tee "$out/device.txt"
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
  "$py" bench/reference/maddpg_ref.py dump "$out/parity-$variant" --variant "$variant" --updates 10 --batch 64 \
    && TENNIS_PARITY_DIR="$out/parity-$variant" ./build-gpu/tennis_core_tests parity 2>&1 \
      | grep -E "parity|passed" | tee -a "$out/summary.txt"
done

log "update bench, ${seconds} s per row"
./build-gpu/bench_update --device cuda --impl libtorch --threads 1 --seconds "$seconds" | tee "$out/native_cuda.jsonl"
./build-gpu/bench_update --device cpu --impl libtorch,fused --threads 1,2 --seconds "$seconds" | tee "$out/native_cpu.jsonl"
"$py" bench/reference/bench_update_ref_device.py --device cuda --threads 1 --seconds "$seconds" | tee "$out/reference_cuda.jsonl"
"$py" bench/reference/bench_update_ref.py --threads 1,2 --seconds "$seconds" | tee "$out/reference_cpu.jsonl"

"$py" - "$out" <<'PY' | tee -a "$out/summary.txt"
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
rows = []
for name in ("native_cuda", "native_cpu", "reference_cuda", "reference_cpu"):
    path = out / (name + ".jsonl")
    if path.exists():
        rows += [dict(json.loads(line), device=json.loads(line).get("device", "cpu"))
                 for line in path.read_text().splitlines() if line.startswith("{")]
rate = {(r["impl"], r["device"].split(":")[0], r["threads"]): r["updates_per_s"] for r in rows}
for key, value in sorted(rate.items()):
    print("%-10s %-5s threads %d  %8.1f updates/s" % (key[0], key[1], key[2], value))
def ratio(a, b):
    return "%.2fx" % (rate[a] / rate[b]) if a in rate and b in rate else "n/a"
print("libtorch cuda / reference cuda:", ratio(("libtorch", "cuda", 1), ("reference", "cuda", 1)))
for t in (1, 2):
    print("fused cpu / reference cpu, %d thread(s): %s" % (t, ratio(("fused", "cpu", t), ("reference", "cpu", t))))
(out / "bench.json").write_text(json.dumps(rows, indent=1))
PY
