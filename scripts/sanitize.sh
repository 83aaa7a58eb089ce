#!/usr/bin/env bash
# ASan+UBSan build of the format layer, the file-system door (core/base), the
# CLI and the engine; runs their unit tests, the hostile-input suite, the
# engine's weight-loading tests and two exports with the sanity pass under the
# sanitizers (any report aborts).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${SANITIZE_BUILD_DIR:-build-asan}"
cmake -S . -B "$BUILD_DIR" -DNEOBERT_SANITIZE=ON -DNEOBERT_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target format_tests base_tests neobert-export engine_tests
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Our format code: leaks are errors too.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "$BUILD_DIR/bin/format_tests" --gtest_brief=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "$BUILD_DIR/bin/base_tests" --gtest_brief=1
# The CLI also links LibTorch and gRPC, whose process-lifetime allocations are
# not ours to judge: memory errors abort, leak reports are off.
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  /usr/bin/python3 tests/python/test_hostile_inputs.py "$BUILD_DIR/bin"
# The engine: weights mapped from a file and released with the model, the
# copy fallbacks, CPU threads; then a real export whose sanity pass runs
# beside its writes (threads, the mapped input, the overlap), in fp32 and
# bf16 (about a minute in all).
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 "$BUILD_DIR/bin/engine_tests" --gtest_brief=1 \
  --gtest_filter='MappedWeights.*:Float32Fallback.*:SetCpuThreads.*:Create.*:SanityCheck.*'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for variant in fp32_swiglu_rope_rms bf16; do
  /usr/bin/python3 tests/fixtures/make_checkpoint.py --variant "$variant" --out "$tmp/$variant" \
    --cache "$tmp/cache" >/dev/null
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 "$BUILD_DIR/bin/neobert-export" export \
    "$tmp/$variant" -o "$tmp/out-$variant" --device cpu --no-fsync >/dev/null
done
echo "sanitize: clean"
