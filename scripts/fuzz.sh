#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for a bounded
# time. CI runs 30 s per target; run longer by hand, e.g.
#   FUZZ_SECONDS=3600 bash scripts/fuzz.sh
# or only some targets: FUZZ_TARGETS="fuzz_job_codec fuzz_tokenizer_json" ...
# Seeds: real weight files, config.yaml and tokenizer.json files from the test
# fixtures when they exist; tests/fuzz/<target>.dict (when present) is the
# target's libFuzzer dictionary.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${FUZZ_BUILD_DIR:-build-fuzz}"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-30}"
TARGETS=(fuzz_unpickler fuzz_zip_reader fuzz_safetensors fuzz_checkpoint_config fuzz_tokenizer_json
         fuzz_job_codec)
if [ -n "${FUZZ_TARGETS:-}" ]; then read -ra TARGETS <<< "$FUZZ_TARGETS"; fi

CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -DNEOBERT_FUZZ=ON -DNEOBERT_BUILD_TESTS=OFF \
  -DNEOBERT_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target "${TARGETS[@]}"

fixtures="${NEOBERT_FIXTURES:-build/fixtures}"
for t in "${TARGETS[@]}"; do
  corpus="$BUILD_DIR/corpus/$t"
  mkdir -p "$corpus"
  if [ -d "$fixtures" ]; then
    case "$t" in
      fuzz_safetensors) find "$fixtures" -name '*.safetensors' -size -2M -exec cp {} "$corpus/" \; ;;
      fuzz_zip_reader) find "$fixtures" -name 'state_dict.pt' -size -2M | head -5 |
                         while read -r f; do cp "$f" "$corpus/$(basename "$(dirname "$f")").pt"; done ;;
      fuzz_checkpoint_config) find "$fixtures" -name config.yaml -size -64k |
                                while read -r f; do cp "$f" "$corpus/$(basename "$(dirname "$f")").yaml"; done ;;
      fuzz_tokenizer_json) find "$fixtures" -path '*/tokenizer/tokenizer.json' -size -256k |
                             while read -r f; do cp "$f" "$corpus/$(md5sum < "$f" | cut -c1-16).json"; done ;;
      fuzz_unpickler) find "$fixtures" -name 'state_dict.pt' -size -2M | head -5 |
                        while read -r f; do
                          /usr/bin/python3 -c "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); n=[i for i in z.namelist() if i.endswith('data.pkl')][0]; open(sys.argv[2],'wb').write(z.read(n))" \
                            "$f" "$corpus/$(basename "$(dirname "$f")").pkl"
                        done ;;
      fuzz_job_codec) /usr/bin/python3 - "$corpus" <<'PY'
import json, sys
spec = {"kind": "export", "checkpoint_dir": "/in/a", "output_dir": "/out/a", "dtype": "keep",
        "max_shard_bytes": 0, "write_pytorch_bin": True, "idempotency_key": "k", "validate_strict": True}
result = {"output_dir": "/out/a", "files": [{"name": "config.json", "size": 3, "sha256": "ab"}],
          "notes": ["n"], "warnings": [], "checks": [{"name": "weights", "passed": True, "detail": ""}],
          "weights_file": "/in/a/state_dict.pt", "tensor_bytes": 12, "mapping": ["a <- b (F32 [2])"]}
error = {"code": 3, "message": "bad", "payloads": {"type.googleapis.com/x.Reason": "CAE="}}
seeds = {"spec": spec, "result": result, "error": error, "hook": {"ran": True, "exit_code": 1, "message": "m"},
         "event": {"state": "FAILED", "stage": "write", "final": True, "error": error, "result": result},
         "journal": {"id": "job-1", "state": "RUNNING", "spec": spec, "result": result, "error": error}}
for name, obj in seeds.items():
    open(f"{sys.argv[1]}/{name}.json", "w").write(json.dumps(obj))
PY
        ;;
    esac
  fi
  dict=()
  if [ -f "tests/fuzz/$t.dict" ]; then dict=(-dict="tests/fuzz/$t.dict"); fi
  echo "fuzz: $t for ${SECONDS_PER_TARGET}s"
  "$BUILD_DIR/bin/$t" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -print_final_stats=1 \
    ${dict[@]+"${dict[@]}"} "$corpus" 2>&1 | tail -n 12
done
echo "fuzz: all targets ran clean"
