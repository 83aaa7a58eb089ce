#!/usr/bin/env bash
# Installs every system and npm dependency of neobert-export on Debian 12.
# Run as root, or as a user with sudo (used only for apt-get). Idempotent.
# Used by the README's commands, by .ci/run and, with --build-only, by the
# Dockerfile's build stage.
set -euo pipefail
cd "$(dirname "$0")/.."

# --build-only: just what compiling the binaries needs (the Dockerfile's build
# stage); no test packages, no npm.
BUILD_ONLY=0
if [ "${1:-}" = "--build-only" ]; then BUILD_ONLY=1; fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "setup: not root and sudo is not installed: run as root, or install sudo" >&2
    SUDO="false"
  else
    SUDO="sudo"
  fi
fi

# Build toolchain and libraries (the fixed stack; libcpp-httplib-dev serves
# /metrics; libsqlite3-dev and libpq-dev are the job store's drivers).
BUILD_PACKAGES=(
  build-essential cmake pkg-config
  libtorch-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libabsl-dev
  libssl-dev zlib1g-dev libcpp-httplib-dev libsqlite3-dev libpq-dev
)
# Tests: python3-torch (real torch.save fixtures), python3-grpcio (independent
# client), clang (ASan/UBSan + libFuzzer builds), openssl (test certificates
# for TLS), git, postgresql (the real database the job store tests start:
# scripts/pg_test_cluster.sh).
# libopenblas0-pthread takes over the libblas.so.3 alternative that Debian's
# LibTorch (and python3-torch) multiply matrices with: the reference BLAS it
# replaces is ~4x slower on forward passes (validate of the 250M fixture:
# 72 s -> 18 s). The runtime image installs it too.
TEST_PACKAGES=(
  git clang libopenblas0-pthread libgtest-dev libgmock-dev postgresql
  python3 python3-torch python3-grpcio python3-numpy python3-yaml openssl
)
PACKAGES=("${BUILD_PACKAGES[@]}")
if [ "$BUILD_ONLY" -eq 0 ]; then PACKAGES+=("${TEST_PACKAGES[@]}"); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "$BUILD_ONLY" -eq 0 ] && ! command -v npm >/dev/null 2>&1; then missing+=(nodejs npm); fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

if [ "$BUILD_ONLY" -eq 1 ]; then
  echo "setup: done (build only)"
  exit 0
fi

# Debian's kubectl (kubernetes-client), unpacked for tests/deploy's kustomize
# renders rather than installed: it would clash with a kubectl package from
# elsewhere (e.g. Google's), which the tests use as well when present.
KUBECTL_DIR=.deps/kubernetes-client
if [ ! -x "$KUBECTL_DIR/usr/bin/kubectl" ]; then
  echo "setup: unpacking Debian's kubernetes-client into $KUBECTL_DIR"
  rm -rf "$KUBECTL_DIR.tmp" && mkdir -p "$KUBECTL_DIR.tmp"
  (cd "$KUBECTL_DIR.tmp" && apt-get download -qq kubernetes-client 2>/dev/null) || {
    $SUDO apt-get update -qq
    (cd "$KUBECTL_DIR.tmp" && apt-get download -qq kubernetes-client)
  }
  dpkg-deb -x "$KUBECTL_DIR.tmp"/kubernetes-client_*.deb "$KUBECTL_DIR.tmp/root"
  rm -rf "$KUBECTL_DIR" && mv "$KUBECTL_DIR.tmp/root" "$KUBECTL_DIR" && rm -rf "$KUBECTL_DIR.tmp"
fi

# npm: the HF tokenizers library (Rust) builds the fixture tokenizers;
# kubernetes-models holds the Kubernetes schemas tests/deploy validates with.
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: done"
