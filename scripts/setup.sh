#!/usr/bin/env bash
# Installs every system and npm dependency of neobert-export on Debian 12.
# Run as root (or with sudo available). Idempotent. Used by the README's first
# command, by .ci/run and (same package list) by the Dockerfile.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Build toolchain and libraries (the fixed stack; libcpp-httplib-dev serves
# /metrics), plus test-only packages:
# python3-torch (real torch.save fixtures), python3-grpcio (independent client),
# clang (ASan/UBSan + libFuzzer builds), openssl (test certificates for TLS),
# postgresql (the real database the job store tests start: scripts/pg_test_cluster.sh).
# libsqlite3-dev and libpq-dev: the job store's two drivers (server/store/).
# libopenblas0-pthread takes over the libblas.so.3 alternative that Debian's
# LibTorch (and python3-torch) multiply matrices with: the reference BLAS it
# replaces is ~4x slower on forward passes (validate of the 250M fixture:
# 72 s -> 18 s).
PACKAGES=(
  build-essential cmake git pkg-config clang
  libtorch-dev libopenblas0-pthread
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libabsl-dev
  libgtest-dev libgmock-dev libssl-dev zlib1g-dev
  libcpp-httplib-dev libsqlite3-dev libpq-dev
  postgresql
  python3 python3-torch python3-grpcio python3-numpy python3-yaml openssl
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v npm >/dev/null 2>&1; then missing+=(nodejs npm); fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

# The HF tokenizers library (Rust, via npm) builds the fixture tokenizers.
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: done"
