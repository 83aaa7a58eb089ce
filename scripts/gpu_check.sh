#!/usr/bin/env bash
# GPU acceptance check (issue 4): CUDA LibTorch build, CUDA sanity passes, the
# server's device policy, and the export loaded by the REAL transformers.
#
# On the GPU machine (Ubuntu 24.04, PyTorch 2.x + CUDA, transformers 5.x; see
# ../shared/device/README.md) it:
#   1. builds neobert-export and neobert-exportd against the PyTorch install's
#      CUDA LibTorch, with Debian's packages carried in .debs/;
#   2. exports fixture checkpoints with the sanity pass on cuda:0 (fp32, bf16,
#      fp16, gelu, LayerNorm, learned positions, decoder bias, v5 tokenizer)
#      and validates each on cuda:0 against its checkpoint;
#   3. starts neobert-exportd --device auto, exports and validates through it
#      and checks that the job's forward passes ran on cuda:0;
#   4. runs scripts/gpu_check.py: AutoTokenizer / AutoModel /
#      AutoModelForMaskedLM / AutoModelForSequenceClassification
#      (trust_remote_code=True) against `neobert-export forward` on cpu and cuda:0.
#
# Prepare HERE (Debian), from the project root:
#   EXTRA_DEBS="libssl-dev libssl3 zlib1g-dev libcpp-httplib-dev libcpp-httplib0.11 \
#     libbrotli-dev libbrotli1" bash ../shared/device/fetch-debs.sh        # -> .debs/
#   mkdir -p .gpu && cp -r build/fixtures .gpu/ && echo /.gpu/ >> .git/info/exclude
# Then one device run:
#   run(command="bash scripts/gpu_check.sh", carry=[".debs", ".gpu"], timeout_s=480)
# Logs and JSON reports go to $OUT (./gpu-check-out when $OUT is unset); the
# exports themselves stay in a scratch folder (the device returns 8 files).
set -euo pipefail
cd "$(dirname "$0")/.."
FIXTURES="${1:-.gpu/fixtures}"
OUT="${OUT:-$PWD/gpu-check-out}"
BUILD_DIR="${GPU_BUILD_DIR:-build-gpu}"
WORK="$(mktemp -d /tmp/gpu-check.XXXXXX)"
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1
FAILED=()
step() { echo; echo "== $*"; }
fail() { echo "FAIL: $*"; FAILED+=("$*"); }

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
python3 -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda,
"available", torch.cuda.is_available(), "| transformers", transformers.__version__)'
[ -d "$FIXTURES/fp32_swiglu_rope_rms" ] || { echo "no fixtures in $FIXTURES (carry .gpu)"; exit 1; }
[ -f .debs/gpu-env.sh ] || { echo "no .debs/gpu-env.sh (run fetch-debs.sh here, carry .debs)"; exit 1; }

step "build against the CUDA LibTorch of the PyTorch install"
PLAIN_LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"
# shellcheck disable=SC1091
source .debs/gpu-env.sh
# Our CMake finds Protobuf before Torch and keeps spdlog/fmt out of the LibTorch
# translation units (the two pitfalls of the device README). pkg-config would
# report Debian's /usr paths for the packages unpacked under /opt/deb, so
# cpp-httplib is found by header and library instead.
SECONDS=0
if ! { cmake -S . -B "$BUILD_DIR" -G Ninja "${GPU_CMAKE_ARGS[@]}" -DNEOBERT_BUILD_TESTS=OFF \
         -DNEOBERT_BUILD_BENCH=OFF -DNEOBERT_HTTPLIB_PKGCONFIG=OFF &&
       cmake --build "$BUILD_DIR" --target neobert-export neobert-exportd; } > "$OUT/build.log" 2>&1; then
  tail -n 60 "$OUT/build.log"; echo "build failed"; exit 1
fi
grep -E "Found Torch|CUDA" "$OUT/build.log" | head -n 5 || true
echo "built in ${SECONDS}s"
BIN="$PWD/$BUILD_DIR/bin"
# The binaries need the carried libraries; Python must not see them (it has its own).
cat > "$WORK/neobert-export" <<EOF
#!/bin/sh
LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}" exec "$BIN/neobert-export" "\$@"
EOF
chmod +x "$WORK/neobert-export"
CLI="$WORK/neobert-export"

EXPORTS=()
for fx in fp32_swiglu_rope_rms bf16 fp16 gelu layernorm learned_positions decoder_bias tokenizer_v5; do
  step "export $fx with the sanity pass on cuda:0, then validate on cuda:0"
  dest="$WORK/export/$fx"
  if ! "$CLI" export "$FIXTURES/$fx" -o "$dest" --device cuda:0 --local; then fail "export $fx"; continue; fi
  if "$CLI" validate "$dest" --source "$FIXTURES/$fx" --device cuda:0 --local --json > "$WORK/validate_$fx.json"; then
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))
print(" ".join(c["name"] + ("=ok" if c["passed"] else "=warn" if c["advisory"] else "=FAIL") for c in r["checks"]))' \
      "$WORK/validate_$fx.json" || cat "$WORK/validate_$fx.json"
  else
    cat "$WORK/validate_$fx.json"; fail "validate $fx on cuda:0"
  fi
  case "$fx" in bf16|fp16) ;; *) EXPORTS+=("$dest") ;; esac  # transformers compares fp32 exports
done
python3 - "$WORK"/validate_*.json > "$OUT/validate.json" <<'EOF'
import json, os, sys
print(json.dumps({os.path.basename(p): json.load(open(p)) for p in sys.argv[1:]}, indent=1))
EOF

step "neobert-exportd --device auto: a job's forward passes go to the GPU"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$WORK/srv/in" "$WORK/srv/out"
cp -r "$FIXTURES/fp32_swiglu_rope_rms" "$WORK/srv/in/ckpt"
"$BIN/neobert-exportd" --listen "127.0.0.1:$PORT" --input-root "$WORK/srv/in" \
  --output-root "$WORK/srv/out" --state-dir "$WORK/srv/state" --device auto --workers 2 \
  > "$OUT/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 50); do "$CLI" health --server "127.0.0.1:$PORT" >/dev/null 2>&1 && break; sleep 0.2; done
if "$CLI" export "$WORK/srv/in/ckpt" -o "$WORK/srv/out/hf" --server "127.0.0.1:$PORT" | tee "$WORK/srv.txt"; then
  grep -q "on cuda:0" "$WORK/srv.txt" || fail "server export did not report cuda:0"
else
  fail "server export"
fi
"$CLI" validate "$WORK/srv/out/hf" --source "$WORK/srv/in/ckpt" --server "127.0.0.1:$PORT" \
  | tee "$WORK/srv_validate.txt" || fail "server validate"
kill "$SERVER_PID"; wait "$SERVER_PID" || true
tail -n 5 "$OUT/server.log"

step "real transformers vs neobert-export forward"
LD_LIBRARY_PATH="$PLAIN_LD_LIBRARY_PATH" python3 scripts/gpu_check.py --cli "$CLI" --out "$OUT" \
  --work "$WORK" "${EXPORTS[@]}" || fail "transformers comparison"

step "timing: a NeoBERT-250M-shaped checkpoint (fp32, ~980 MB), sanity and validation on cuda:0 vs cpu"
t() { local s; s=$(date +%s.%N); "$@" > "$WORK/timed.txt" 2>&1 || { tail -n 5 "$WORK/timed.txt"; return 1; }
      python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f} s')" "$s"; }
if LD_LIBRARY_PATH="$PLAIN_LD_LIBRARY_PATH" timeout 300 python3 tests/fixtures/make_checkpoint.py \
     --variant large_250m --out "$WORK/large" --cache "$FIXTURES/../fixture-cache" > "$WORK/gen.txt" 2>&1; then
  echo -n "export, sanity pass on cuda:0: "; t timeout 300 "$CLI" export "$WORK/large" -o "$WORK/large_hf" --device cuda:0 --local --no-fsync || fail "250M export"
  echo -n "validate on cuda:0: "; t timeout 300 "$CLI" validate "$WORK/large_hf" --source "$WORK/large" --device cuda:0 --local || fail "250M validate cuda"
  echo -n "validate on cpu ($(nproc) cores): "; t timeout 300 "$CLI" validate "$WORK/large_hf" --source "$WORK/large" --device cpu --local || fail "250M validate cpu"
else
  tail -n 5 "$WORK/gen.txt"; echo "(no 250M checkpoint: timing skipped)"
fi

step "result"
if [ ${#FAILED[@]} -gt 0 ]; then printf 'FAILED: %s\n' "${FAILED[@]}"; exit 1; fi
echo "gpu_check: all passed"
