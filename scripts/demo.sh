#!/usr/bin/env bash
# The README's first command: installs dependencies, builds, generates a small
# NeoBERT checkpoint exactly as the trainer writes it (real torch.save, real HF
# tokenizer), exports it to a Hugging Face folder, and checks the export.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR="${BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target neobert-export

SAMPLE="${SAMPLE_DIR:-$PWD/$BUILD_DIR/sample}"
CKPT="$SAMPLE/runs/neobert_sample/model_checkpoints/1000"
rm -rf "$SAMPLE"
mkdir -p "$(dirname "$CKPT")"
/usr/bin/python3 tests/fixtures/make_checkpoint.py --variant fp32_swiglu_rope_rms --out "$CKPT" \
  --cache "$BUILD_DIR/fixture-cache" --node node >/dev/null
echo "== sample checkpoint: $CKPT"
ls -l "$CKPT"

echo "== inspect"
"$BUILD_DIR/bin/neobert-export" inspect "$CKPT" | tail -n 4
echo "== export (default destination: <ckpt>/../../hf/<run>_<step>)"
"$BUILD_DIR/bin/neobert-export" export "$CKPT"
OUT="$SAMPLE/runs/neobert_sample/hf/neobert_sample_1000"

echo "== check: weights, manifest and our model.py against an independent forward pass"
/usr/bin/python3 scripts/check_export.py "$CKPT" "$OUT"
echo "== done: the Hugging Face folder is $OUT"
