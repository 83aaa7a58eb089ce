# syntax=docker/dockerfile:1
# neobert-export image: neobert-exportd (the gRPC export service, the
# ENTRYPOINT) and neobert-export (the CLI, also used by the HEALTHCHECK).
#
#   docker build -t neobert-export:0.1.0 .                                  # CPU (Debian's LibTorch)
#   docker build -t neobert-export-cuda:0.1.0 --target runtime-cuda .       # CUDA LibTorch
#   buildah bud --format docker --target runtime-cpu -t neobert-export:0.1.0 .
#   docker run -p 50051:50051 -v /ckpt:/checkpoints:ro -v /out:/exports neobert-export:0.1.0
#
# The variant is a --target, not a build argument naming a stage: BuildKit
# and buildah (which cannot pick a stage by an ARG) build the same file. The
# last stage is the CPU image, so a plain `docker build .` gives that. The
# CUDA stages come after the CPU ones because buildah 1.28 (Debian 12) does
# not skip unused stages before its --target (so: --target runtime-cpu with
# buildah; it stops at the target). scripts/image-test.sh builds this file
# for real in CI (buildah) and runs the result.
#
# Build stages: Debian 12, `scripts/setup.sh --build-only` (the compile's part
# of the package list CI installs: no test packages, no npm), then
# scripts/build.sh (CI's configure + build) for the two binaries only, and
# `cmake --install` (bin/ and lib/neobert-export/, where the engine loader
# looks). tests/deploy/test_dockerfile.py checks this file against those
# scripts and every package named here against apt. .dockerignore keeps the
# context to what is compiled.
#
# CUDA (runtime-cuda): instead of Debian's CPU LibTorch 1.13, link a CUDA
# LibTorch taken from a PyTorch image (TORCH_IMAGE, a *-devel tag: the CUDA
# toolkit is needed at configure time by Torch's CMake config). The pip wheel
# must use the C++11 ABI like Debian's gRPC/absl/protobuf, i.e. torch >= 2.7;
# the torch-cuda stage refuses older wheels. The CUDA libraries (torch/lib and
# the nvidia/* wheels) are copied into the runtime image under /opt/torch-dist;
# the NVIDIA driver comes from the host (NVIDIA Container Toolkit:
# `docker run --gpus all`, or the nvidia.com/gpu resource in Kubernetes).
# Neither image sets NVIDIA_VISIBLE_DEVICES: a pod sees a GPU only when it
# requests one (the device plugin sets it then).
ARG TORCH_IMAGE=pytorch/pytorch:2.7.1-cuda12.8-cudnn9-devel

# --- build stages
FROM debian:12 AS build-base
WORKDIR /src
# Dependencies first (cached until setup.sh changes).
COPY scripts/setup.sh scripts/setup.sh
RUN bash scripts/setup.sh --build-only && rm -rf /var/lib/apt/lists/*

FROM build-base AS build-cpu
COPY . .
# Only what the image ships: no tests, no benchmarks; Release (CI's -O2 -g
# would only be stripped again). Stripped on install.
RUN set -eux; \
    BUILD_DIR=build BUILD_TYPE=Release CMAKE_ARGS="-DNEOBERT_BUILD_TESTS=OFF -DNEOBERT_BUILD_BENCH=OFF" \
      bash scripts/build.sh neobert-exportd neobert-export; \
    cmake --install build --prefix /out/usr/local --strip

# --- runtime stages
FROM debian:12-slim AS runtime-base
# The packages owning the binaries' direct shared-library dependencies
# (readelf NEEDED -> dpkg -S; apt pulls in their own dependencies).
# tests/deploy/test_dockerfile.py recomputes this mapping from the built
# binaries. libsqlite3-0 and libpq5: the job store's drivers.
ARG RUNTIME_PACKAGES="libabsl20220623 libc6 libfmt9 libgcc-s1 libgrpc++1.51 libgrpc29 \
    libprotobuf32 libspdlog1.10 libssl3 libstdc++6 libyaml-cpp0.7 zlib1g ca-certificates \
    libcpp-httplib0.11 libsqlite3-0 libpq5"
RUN set -eux; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $RUNTIME_PACKAGES; \
    rm -rf /var/lib/apt/lists/*
# A fixed numeric uid so Kubernetes' runAsNonRoot can verify it (deploy/ uses 10001).
RUN groupadd --system --gid 10001 neobert \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/neobert-export --create-home \
            --shell /usr/sbin/nologin neobert \
 && mkdir -p /checkpoints /exports /var/lib/neobert-export/state \
 && chown 10001:10001 /exports /var/lib/neobert-export/state
WORKDIR /var/lib/neobert-export
VOLUME ["/exports", "/var/lib/neobert-export/state"]
# 50051: gRPC API and grpc.health.v1; 9090: Prometheus /metrics (--metrics-listen).
EXPOSE 50051 9090
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD ["neobert-export", "health", "--server", "127.0.0.1:50051", "--connect-timeout", "5"]
ENTRYPOINT ["neobert-exportd"]
CMD ["--listen", "0.0.0.0:50051", "--input-root", "/checkpoints", "--output-root", "/exports", \
     "--state-dir", "/var/lib/neobert-export/state"]

FROM runtime-base AS runtime-cpu-libs
# Debian's CPU LibTorch (libc10, libtorch, libtorch_cpu);
# libopenblas0-pthread: the fast libblas.so.3 for it (see scripts/setup.sh).
ARG RUNTIME_TORCH_CPU_PACKAGES="libtorch1.13 libopenblas0-pthread"
RUN set -eux; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $RUNTIME_TORCH_CPU_PACKAGES; \
    rm -rf /var/lib/apt/lists/*

FROM runtime-cpu-libs AS runtime-cpu
COPY --from=build-cpu /out/usr/local/ /usr/local/
# Fail the image build, not the first pod, when a runtime library is missing.
RUN ! ldd /usr/local/bin/neobert-exportd /usr/local/bin/neobert-export \
        /usr/local/lib/neobert-export/libneobert_engine_torch.so | grep 'not found'
USER 10001:10001

# --- The same runtime fed with binaries a Debian 12 host already built
# (scripts/image-test.sh --host-binaries: `cmake --install build --prefix
# out/image-install/usr/local --strip` first). CI uses it: compiling the
# binaries a second time inside build-cpu costs ~10 of CI's 45 minutes, and
# what the image check is about (packages, user, volumes, CMD, HEALTHCHECK,
# the binaries against the runtime's libraries) is this stage's.
FROM runtime-cpu-libs AS runtime-cpu-host
COPY out/image-install/usr/local/ /usr/local/
RUN ! ldd /usr/local/bin/neobert-exportd /usr/local/bin/neobert-export \
        /usr/local/lib/neobert-export/libneobert_engine_torch.so | grep 'not found'
USER 10001:10001

# --- CUDA variant: docker build --target runtime-cuda
FROM ${TORCH_IMAGE} AS torch-cuda
RUN set -eux; \
    python -c "import torch, sys; sys.exit(0 if torch._C._GLIBCXX_USE_CXX11_ABI else 'torch ' + torch.__version__ + ' uses the pre-C++11 ABI; use torch >= 2.7')"; \
    site="$(python -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')"; \
    mkdir -p /opt/torch-dist; \
    cp -a "$site/torch" /opt/torch-dist/torch; \
    if [ -d "$site/nvidia" ]; then cp -a "$site/nvidia" /opt/torch-dist/nvidia; fi; \
    cp -a "$(readlink -f /usr/local/cuda)" /opt/cuda-toolkit; \
    find /opt/torch-dist -name 'lib*.so*' -printf '%h\n' | sort -u > /opt/torch-dist/ld.so.conf

FROM build-base AS build-cuda
COPY --from=torch-cuda /opt/torch-dist /opt/torch-dist
COPY --from=torch-cuda /opt/cuda-toolkit /opt/cuda-toolkit
COPY . .
# CMAKE_PREFIX_PATH / CUDAToolkit_ROOT from the environment make CMake take
# the CUDA LibTorch instead of Debian's.
RUN set -eux; \
    export CMAKE_PREFIX_PATH=/opt/torch-dist/torch/share/cmake CUDAToolkit_ROOT=/opt/cuda-toolkit \
           CUDACXX=/opt/cuda-toolkit/bin/nvcc; \
    BUILD_DIR=build BUILD_TYPE=Release CMAKE_ARGS="-DNEOBERT_BUILD_TESTS=OFF -DNEOBERT_BUILD_BENCH=OFF" \
      bash scripts/build.sh neobert-exportd neobert-export; \
    cmake --install build --prefix /out/usr/local --strip

FROM runtime-base AS runtime-cuda
COPY --from=torch-cuda /opt/torch-dist /opt/torch-dist
RUN cp /opt/torch-dist/ld.so.conf /etc/ld.so.conf.d/zz-torch-dist.conf && ldconfig
COPY --from=build-cuda /out/usr/local/ /usr/local/
RUN ! ldd /usr/local/bin/neobert-exportd /usr/local/bin/neobert-export \
        /usr/local/lib/neobert-export/libneobert_engine_torch.so | grep 'not found'
# Which GPUs a container sees is the runtime's business (the device plugin
# sets NVIDIA_VISIBLE_DEVICES for a pod that requests nvidia.com/gpu); the
# capabilities say the driver's compute libraries are needed.
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001:10001

# --- default target of a plain `docker build .`: the CPU image
FROM runtime-cpu AS default
