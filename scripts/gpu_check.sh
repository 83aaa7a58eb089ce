#!/usr/bin/env bash
# GPU acceptance check for issue 4 (engine / export / real transformers).
#
# STATUS: written and syntax-checked (bash -n, py_compile) but NOT RUN YET:
# the session that wrote it had no GPU machine. The first run on one should
# record its output in the lead's note and fix whatever it finds.
#
# What it does, on the GPU machine (Ubuntu 24.04, PyTorch 2.x + CUDA,
# transformers 5.x; see ../shared/device/README.md):
#   1. builds neobert-export against the PyTorch install's CUDA LibTorch with
#      the carried Debian packages (.debs/gpu-env.sh);
#   2. exports a fixture checkpoint with the sanity pass on cuda:0
#      (`export --device cuda:0`) and validates it on cuda:0;
#   3. runs scripts/gpu_check.py: loads the export with the REAL transformers
#      AutoModel / AutoModelForMaskedLM / AutoModelForSequenceClassification /
#      AutoTokenizer (trust_remote_code=True) and compares their outputs with
#      `neobert-export forward` on cpu and on cuda:0.
#
# Prepare HERE (Debian) first:
#   EXTRA_DEBS="libssl-dev libssl3" bash ../shared/device/fetch-debs.sh   # .debs/ (OpenSSL: CMake needs it)
#   cmake --build build --target neobert-export && ctest --test-dir build -R fixtures.generate
# Then one device run, carrying .debs and build/fixtures:
#   run(command="bash scripts/gpu_check.sh build/fixtures/fp32_swiglu_rope_rms",
#       carry=[".debs", "build/fixtures"], timeout_s=540)
# Results (JSON + logs) go to $OUT (or ./gpu-check-out when $OUT is unset).
set -euo pipefail
cd "$(dirname "$0")/.."
FIXTURE="${1:-build/fixtures/fp32_swiglu_rope_rms}"
OUT="${OUT:-$PWD/gpu-check-out}"
BUILD_DIR="${GPU_BUILD_DIR:-build-gpu}"
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1

echo "== machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
python3 -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda,
"available", torch.cuda.is_available(), "| transformers", transformers.__version__)'

[ -d "$FIXTURE" ] || { echo "no fixture checkpoint at $FIXTURE (carry build/fixtures)"; exit 1; }
[ -f .debs/gpu-env.sh ] || { echo "no .debs/gpu-env.sh (run fetch-debs.sh here and carry .debs)"; exit 1; }

echo "== build (CUDA LibTorch from the PyTorch install)"
# shellcheck disable=SC1091
source .debs/gpu-env.sh
# Pitfalls from the device README are handled in our CMake: Protobuf is found
# before Torch, and spdlog/fmt never meet Torch's fmt headers (torch headers
# stay inside core/engine's two LibTorch TUs). Tests and benchmarks are not
# needed here: only the CLI.
cmake -S . -B "$BUILD_DIR" -G Ninja "${GPU_CMAKE_ARGS[@]}" \
  -DNEOBERT_BUILD_TESTS=OFF -DNEOBERT_BUILD_BENCH=OFF
cmake --build "$BUILD_DIR" --target neobert-export
CLI="$PWD/$BUILD_DIR/bin/neobert-export"
[ -x "$CLI" ] || CLI="$(find "$BUILD_DIR" -name neobert-export -type f -perm -u+x | head -1)"

echo "== export with the CUDA sanity pass"
EXPORT="$OUT/export"
rm -rf "$EXPORT"
"$CLI" export "$FIXTURE" -o "$EXPORT" --device cuda:0 --local
ls -l "$EXPORT"

echo "== validate on cuda:0 (with the source checkpoint)"
"$CLI" validate "$EXPORT" --source "$FIXTURE" --device cuda:0 --local --json | tee "$OUT/validate.json"

echo "== real transformers vs neobert-export forward"
python3 scripts/gpu_check.py --cli "$CLI" --export "$EXPORT" --out "$OUT"
echo "gpu_check: done"
