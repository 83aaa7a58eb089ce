#!/usr/bin/env bash
# ASan+UBSan build of the format layer, the file-system door (core/base) and
# the CLI; runs their unit tests and the hostile-input suite under the
# sanitizers (any report aborts).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${SANITIZE_BUILD_DIR:-build-asan}"
cmake -S . -B "$BUILD_DIR" -DNEOBERT_SANITIZE=ON -DNEOBERT_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target format_tests base_tests neobert-export
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Our format code: leaks are errors too.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "$BUILD_DIR/bin/format_tests" --gtest_brief=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "$BUILD_DIR/bin/base_tests" --gtest_brief=1
# The CLI also links LibTorch and gRPC, whose process-lifetime allocations are
# not ours to judge: memory errors abort, leak reports are off.
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  /usr/bin/python3 tests/python/test_hostile_inputs.py "$BUILD_DIR/bin"
echo "sanitize: clean"
