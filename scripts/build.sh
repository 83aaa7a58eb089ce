#!/usr/bin/env bash
# Configures and builds neobert-export. The one build recipe shared by
# scripts/test.sh (README, CI) and the Dockerfile, so the image is built
# exactly the way CI builds it.
#   scripts/build.sh                  build everything (tests, benchmarks too)
#   scripts/build.sh TARGET...        same configuration, only these targets
# Environment: BUILD_DIR (default build), JOBS (default nproc), BUILD_TYPE
# (default RelWithDebInfo; the image uses Release: no debug info to compile
# and strip), CMAKE_ARGS
# (more configure arguments, e.g. the Dockerfile's -DNEOBERT_BUILD_TESTS=OFF
# -DNEOBERT_BUILD_BENCH=OFF: the image compiles only what it ships). CMake itself
# reads CMAKE_PREFIX_PATH from the environment (the Dockerfile's CUDA variant
# points it at a CUDA LibTorch; unset, Debian's CPU LibTorch is used).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
JOBS="${JOBS:-$(nproc)}"
targets=()
for t in "$@"; do targets+=(--target "$t"); done
# shellcheck disable=SC2086  # CMAKE_ARGS is a list of words
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" ${CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j "$JOBS" ${targets[@]+"${targets[@]}"}
