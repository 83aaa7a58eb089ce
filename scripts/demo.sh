#!/usr/bin/env bash
# The README's first command: installs dependencies, builds, generates a small
# NeoBERT checkpoint exactly as the trainer writes it (real torch.save, real HF
# tokenizer), exports it to a Hugging Face folder, and checks the export.
# Run it as root (sudo need not be installed) or as a user who has sudo:
# scripts/setup.sh uses sudo for apt-get only when it is not root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export BUILD_DIR="${BUILD_DIR:-build}"
bash scripts/build.sh neobert-export neobert-exportd >/dev/null
BIN="$PWD/$BUILD_DIR/bin"

SAMPLE="${SAMPLE_DIR:-$PWD/$BUILD_DIR/sample}"
CKPT="$SAMPLE/runs/neobert_sample/model_checkpoints/1000"
rm -rf "$SAMPLE"
mkdir -p "$(dirname "$CKPT")"
/usr/bin/python3 tests/fixtures/make_checkpoint.py --variant fp32_swiglu_rope_rms --out "$CKPT" \
  --cache "$BUILD_DIR/fixture-cache" --node node >/dev/null
echo "== sample checkpoint: $CKPT"
ls -l "$CKPT"

echo "== inspect"
"$BIN/neobert-export" inspect "$CKPT" | tail -n 4

PORT="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
SERVER="127.0.0.1:$PORT"
echo "== start neobert-exportd on $SERVER (inputs and outputs confined to $SAMPLE)"
"$BIN/neobert-exportd" --listen "$SERVER" --input-root "$SAMPLE" --output-root "$SAMPLE" \
  --state-dir "$SAMPLE/state" --workers 2 > "$SAMPLE/neobert-exportd.log" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  "$BIN/neobert-export" health --server "$SERVER" >/dev/null 2>&1 && break
  sleep 0.2
done
"$BIN/neobert-export" health --server "$SERVER"

echo "== export through the server (default destination: <ckpt>/../../hf/<run>_<step>)"
"$BIN/neobert-export" export "$CKPT" --server "$SERVER"
OUT="$SAMPLE/runs/neobert_sample/hf/neobert_sample_1000"
echo "== validate through the server: files, weights, tokenizer, forward passes, parity with the checkpoint"
"$BIN/neobert-export" validate "$OUT" --source "$CKPT" --server "$SERVER"
echo "== the same in-process"
"$BIN/neobert-export" validate "$OUT" --source "$CKPT" --local >/dev/null && echo "valid"
echo "== fill-mask with the export's tokenizer (the sample's weights are random: the tokens are noise)"
"$BIN/neobert-export" predict "$OUT" "The capital of France is [MASK]." --top-k 3

echo "== check: weights, manifest and our model.py against an independent forward pass"
/usr/bin/python3 scripts/check_export.py "$CKPT" "$OUT"
echo "== done: the Hugging Face folder is $OUT"
