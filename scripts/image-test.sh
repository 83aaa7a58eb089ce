#!/usr/bin/env bash
# Builds the real Dockerfile (CPU variant) offline and runs the result, with
# no Docker engine and no registry but Debian's mirror:
#  1. base images: `debootstrap --variant=minbase bookworm` once, committed
#     with buildah as the local debian:12 and debian:12-slim the Dockerfile
#     names (reused from buildah's storage when already there);
#  2. `buildah bud --pull=never --isolation chroot --network host --format
#     docker --target runtime-cpu` (docker format keeps the HEALTHCHECK);
#  3. inside the built image, as its USER (uid 10001), in a network namespace
#     of its own that has only loopback (tests/deploy/image_checks.py writes
#     the script): --version; the server started with the image's own
#     ENTRYPOINT + CMD, an export and a validation through the client, the
#     HEALTHCHECK command; then the server as deploy/base runs it (its
#     ConfigMap, token and TLS files at the manifest's mount paths), its exec
#     probe, and the export Job's command verbatim (no --output: the
#     service's default-output-dir puts it under /exports).
# Needs root (debootstrap, buildah's chroot isolation, unshare); installs
# debootstrap and buildah when missing. Prints the time of each phase and the
# image size, also written to $WORK/image-test.json.
#
# Environment: IMAGE_TEST_DIR (default build/image-test), IMAGE_TEST_FRESH=1
# (rebuild the base images and do not reuse buildah's layer cache).
#
# --host-binaries BUILD_DIR: instead of compiling inside the image (stage
# build-cpu, ~10 min on 2 cores), install the binaries this Debian 12 host
# already built in BUILD_DIR (`cmake --install --strip` into
# out/image-install) and build the Dockerfile's runtime-cpu-host stage: the
# same runtime layers fed with them. CI does this after its own build.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "image-test: needs root (or sudo)" >&2; exit 2; }
  exec sudo -E bash "$0" "$@"
fi

TARGET=runtime-cpu
if [ "${1:-}" = --host-binaries ]; then
  [ -n "${2:-}" ] || { echo "usage: image-test.sh [--host-binaries BUILD_DIR]" >&2; exit 2; }
  rm -rf out/image-install
  cmake --install "$2" --prefix out/image-install/usr/local --strip >/dev/null
  trap 'rm -rf "$REPO/out/image-install"' EXIT
  TARGET=runtime-cpu-host
fi

WORK="${IMAGE_TEST_DIR:-$REPO/build/image-test}"
VERSION="$(sed -n 's/^project(neobert_export VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
IMAGE="localhost/neobert-export:$VERSION"
mkdir -p "$WORK"
now() { date +%s; }
declare -A SECONDS_OF

missing=()
for tool in debootstrap:debootstrap buildah:buildah unshare:util-linux ip:iproute2 openssl:openssl; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "image-test: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- 1. base images
t=$(now)
if [ "${IMAGE_TEST_FRESH:-0}" = 1 ] || ! buildah inspect --type image debian:12 >/dev/null 2>&1 \
   || ! buildah inspect --type image debian:12-slim >/dev/null 2>&1; then
  rootfs="$WORK/rootfs"
  rm -rf "$rootfs"
  echo "== debootstrap --variant=minbase bookworm"
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log"; exit 1; }
  # Like Debian's official images: updates and security too, and no package lists.
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  ctr="$(buildah from scratch)"
  buildah add --quiet "$ctr" "$rootfs" / >/dev/null
  buildah config --cmd /bin/bash "$ctr"
  buildah commit --quiet --format docker "$ctr" localhost/debian:12 >/dev/null
  buildah rm "$ctr" >/dev/null
  buildah tag localhost/debian:12 localhost/debian:12-slim
  rm -rf "$rootfs"
else
  echo "== base images debian:12 and debian:12-slim: already in buildah's storage"
fi
SECONDS_OF[base]=$(( $(now) - t ))

# --- 2. the image
t=$(now)
layers=(--layers)
if [ "${IMAGE_TEST_FRESH:-0}" = 1 ]; then layers=(--layers=false --no-cache); fi
echo "== buildah bud --target $TARGET -t $IMAGE"
buildah bud --pull=never --isolation chroot --network host --format docker "${layers[@]}" \
  --target "$TARGET" -t "$IMAGE" -f Dockerfile . >"$WORK/build.log" 2>&1 \
  || { tail -n 40 "$WORK/build.log"; echo "image-test: the build failed (log: $WORK/build.log)" >&2; exit 1; }
SECONDS_OF[build]=$(( $(now) - t ))
SIZE="$(buildah images --format '{{.Size}}' "$IMAGE" | head -n 1)"
echo "== built $IMAGE in ${SECONDS_OF[build]} s, size $SIZE"

# --- 3. run it
t=$(now)
buildah inspect --type image "$IMAGE" >"$WORK/image.json"
rm -rf "$WORK/run"
/usr/bin/python3 tests/deploy/image_checks.py --image-config "$WORK/image.json" --work "$WORK/run" \
  --version "$VERSION" --fixtures "${FIXTURES_DIR:-$REPO/build/fixtures}"
# neobert-exportd, the Service's name, is this loopback: the export Job's
# --server neobert-exportd:50051 works verbatim.
ctr="$(buildah from --pull=never --add-host neobert-exportd:127.0.0.1 "$IMAGE")"
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true; rm -rf "$REPO/out/image-install"' EXIT
mapfile -t mounts <"$WORK/run/mounts"
vols=()
for m in "${mounts[@]}"; do vols+=(-v "$m"); done
# A network namespace with loopback only: the server binds the image's
# 0.0.0.0:50051 there without reaching, or colliding with, anything else.
unshare --net bash -c 'ip link set lo up && exec "$@"' _ \
  buildah run --isolation chroot --user 10001:10001 "${vols[@]}" "$ctr" -- /bin/sh /image-test/run.sh
SECONDS_OF[run]=$(( $(now) - t ))

printf '{"image": "%s", "size": "%s", "base_seconds": %d, "build_seconds": %d, "run_seconds": %d}\n' \
  "$IMAGE" "$SIZE" "${SECONDS_OF[base]}" "${SECONDS_OF[build]}" "${SECONDS_OF[run]}" | tee "$WORK/image-test.json"
echo "image-test: passed (base images ${SECONDS_OF[base]} s, build ${SECONDS_OF[build]} s, run ${SECONDS_OF[run]} s, size $SIZE)"
