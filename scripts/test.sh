#!/usr/bin/env bash
# Builds neobert-export and runs the whole test suite (CTest). This is the
# README's test command and what CI runs after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh   # idempotent: installs only what is missing
BUILD_DIR="${BUILD_DIR:-build}"
JOBS="${JOBS:-$(nproc)}"
export BUILD_DIR JOBS
bash scripts/build.sh   # the same build the Dockerfile runs
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" "$@"
