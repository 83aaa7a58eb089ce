# syntax=docker/dockerfile:1
# neobert-export image: neobert-exportd (the gRPC export service, the
# ENTRYPOINT) and neobert-export (the CLI, also used by the HEALTHCHECK).
#
#   docker build -t neobert-export .                          # CPU (Debian's LibTorch)
#   docker build -t neobert-export:cuda --build-arg TORCH_VARIANT=cuda .
#   docker run -p 50051:50051 -v /ckpt:/checkpoints:ro -v /out:/exports neobert-export
#
# Build stage: Debian 12 + scripts/setup.sh + scripts/build.sh, i.e. exactly
# the packages and the build CI uses (tests/deploy/test_dockerfile.py checks
# this file against those scripts and every package named here against apt).
#
# TORCH_VARIANT=cuda: instead of Debian's CPU LibTorch 1.13, link a CUDA
# LibTorch taken from a PyTorch image (TORCH_IMAGE, a *-devel tag: the CUDA
# toolkit is needed at configure time by Torch's CMake config). The pip wheel
# must use the C++11 ABI like Debian's gRPC/absl/protobuf, i.e. torch >= 2.7;
# the torch-cuda stage refuses older wheels. The CUDA libraries (torch/lib and
# the nvidia/* wheels) are copied into the runtime image under /opt/torch-dist;
# the NVIDIA driver comes from the host (NVIDIA Container Toolkit:
# `docker run --gpus all`, or the nvidia.com/gpu resource in Kubernetes).
ARG TORCH_VARIANT=cpu
ARG TORCH_IMAGE=pytorch/pytorch:2.7.1-cuda12.8-cudnn9-devel
ARG BUILD_IMAGE=debian:12
ARG RUNTIME_IMAGE=debian:12-slim

# --- LibTorch source, selected by TORCH_VARIANT (BuildKit builds only the one used)
FROM ${RUNTIME_IMAGE} AS torch-cpu
# Debian's LibTorch comes from setup.sh / the runtime packages: nothing to add.
RUN mkdir -p /opt/torch-dist /opt/cuda-toolkit && touch /opt/torch-dist/ld.so.conf

FROM ${TORCH_IMAGE} AS torch-cuda
RUN set -eux; \
    python -c "import torch, sys; sys.exit(0 if torch._C._GLIBCXX_USE_CXX11_ABI else 'torch ' + torch.__version__ + ' uses the pre-C++11 ABI; use torch >= 2.7')"; \
    site="$(python -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')"; \
    mkdir -p /opt/torch-dist; \
    cp -a "$site/torch" /opt/torch-dist/torch; \
    if [ -d "$site/nvidia" ]; then cp -a "$site/nvidia" /opt/torch-dist/nvidia; fi; \
    cp -a "$(readlink -f /usr/local/cuda)" /opt/cuda-toolkit; \
    find /opt/torch-dist -name 'lib*.so*' -printf '%h\n' | sort -u > /opt/torch-dist/ld.so.conf

FROM torch-${TORCH_VARIANT} AS torch-dist

# --- build stage
FROM ${BUILD_IMAGE} AS build
ARG TORCH_VARIANT
WORKDIR /src
# Dependencies first (cached until setup.sh or the npm lock changes).
COPY scripts/setup.sh scripts/setup.sh
COPY package.json package-lock.json ./
RUN bash scripts/setup.sh && rm -rf /var/lib/apt/lists/*
COPY --from=torch-dist /opt/torch-dist /opt/torch-dist
COPY --from=torch-dist /opt/cuda-toolkit /opt/cuda-toolkit
COPY . .
# CMAKE_PREFIX_PATH / CUDAToolkit_ROOT from the environment make CMake prefer
# the CUDA LibTorch over Debian's; unset (cpu), scripts/build.sh is CI's build.
RUN set -eux; \
    if [ "$TORCH_VARIANT" = cuda ]; then \
      export CMAKE_PREFIX_PATH=/opt/torch-dist/torch/share/cmake CUDAToolkit_ROOT=/opt/cuda-toolkit \
             CUDACXX=/opt/cuda-toolkit/bin/nvcc; \
    fi; \
    BUILD_DIR=build bash scripts/build.sh neobert-exportd neobert-export; \
    strip --strip-debug build/bin/neobert-exportd build/bin/neobert-export \
      build/bin/libneobert_engine_torch.so

# --- runtime stage
FROM ${RUNTIME_IMAGE} AS runtime
ARG TORCH_VARIANT
# The packages owning the binaries' direct shared-library dependencies
# (readelf NEEDED -> dpkg -S; apt pulls in their own dependencies).
# tests/deploy/test_dockerfile.py recomputes this mapping from the built binaries.
ARG RUNTIME_PACKAGES="libabsl20220623 libc6 libfmt9 libgcc-s1 libgrpc++1.51 libgrpc29 \
    libprotobuf32 libspdlog1.10 libssl3 libstdc++6 libyaml-cpp0.7 zlib1g ca-certificates \
    libcpp-httplib0.11 libpq5 libsqlite3-0"
# Debian's CPU LibTorch (libc10, libtorch, libtorch_cpu); the cuda variant
# brings its own under /opt/torch-dist instead.
# libopenblas0-pthread: the fast libblas.so.3 for it (see scripts/setup.sh).
ARG RUNTIME_TORCH_CPU_PACKAGES="libtorch1.13 libopenblas0-pthread"
RUN set -eux; \
    pkgs="$RUNTIME_PACKAGES"; \
    if [ "$TORCH_VARIANT" = cpu ]; then pkgs="$pkgs $RUNTIME_TORCH_CPU_PACKAGES"; fi; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs; \
    rm -rf /var/lib/apt/lists/*
COPY --from=torch-dist /opt/torch-dist /opt/torch-dist
RUN cp /opt/torch-dist/ld.so.conf /etc/ld.so.conf.d/zz-torch-dist.conf && ldconfig
COPY --from=build /src/build/bin/neobert-exportd /src/build/bin/neobert-export /usr/local/bin/
# LibTorch's half of the engine, opened on first use from <exe dir>/../lib/neobert-export/.
COPY --from=build /src/build/bin/libneobert_engine_torch.so /usr/local/lib/neobert-export/
# Fail the image build, not the first pod, when a runtime library is missing.
RUN ! ldd /usr/local/bin/neobert-exportd /usr/local/bin/neobert-export \
        /usr/local/lib/neobert-export/libneobert_engine_torch.so | grep 'not found'

# A fixed numeric uid so Kubernetes' runAsNonRoot can verify it (deploy/ uses 10001).
RUN groupadd --system --gid 10001 neobert \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/neobert-export --create-home \
            --shell /usr/sbin/nologin neobert \
 && mkdir -p /checkpoints /exports /var/lib/neobert-export/state \
 && chown 10001:10001 /exports /var/lib/neobert-export/state
ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001:10001
WORKDIR /var/lib/neobert-export
VOLUME ["/exports", "/var/lib/neobert-export/state"]
# 50051: gRPC API and grpc.health.v1; 9090: Prometheus /metrics (--metrics-listen).
EXPOSE 50051 9090
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD ["neobert-export", "health", "--server", "127.0.0.1:50051", "--connect-timeout", "5"]
ENTRYPOINT ["neobert-exportd"]
CMD ["--listen", "0.0.0.0:50051", "--input-root", "/checkpoints", "--output-root", "/exports", \
     "--state-dir", "/var/lib/neobert-export/state"]
