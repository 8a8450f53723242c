#!/usr/bin/env bash
# image.sh — builds the Dockerfile for every platform in PLATFORMS into one
# manifest list IMAGE:VERSION, each platform also tagged
# IMAGE:VERSION-OS-ARCH. Uses buildah when it is installed (STORAGE_DRIVER
# and BUILDAH_ISOLATION in the environment choose its storage and
# isolation), else docker buildx. Called by `make image` after the
# binaries are cross-built under .build/OS-ARCH/.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${IMAGE:?}" "${VERSION:?}" "${PLATFORMS:?}"
REVISION=${REVISION:-unknown}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[[ -s $CA_BUNDLE ]] || { echo "image.sh: no CA bundle at $CA_BUNDLE (install ca-certificates)" >&2; exit 1; }
install -m 0644 "$CA_BUNDLE" .build/ca-certificates.crt
labels=(--build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION")

build_with_buildah() {
  local list=$IMAGE:$VERSION p os arch
  buildah manifest rm "$list" >/dev/null 2>&1 || true
  buildah manifest create "$list" >/dev/null
  for p in $PLATFORMS; do
    os=${p%/*} arch=${p#*/}
    buildah bud --quiet --platform "$p" --build-arg "TARGETOS=$os" --build-arg "TARGETARCH=$arch" \
      "${labels[@]}" --tag "$IMAGE:$VERSION-$os-$arch" --manifest "$list" -f Dockerfile . >/dev/null
  done
  echo "image.sh: manifest list $list ($PLATFORMS), built with buildah"
}

build_with_docker() {
  local p
  docker buildx build --platform "$(echo "$PLATFORMS" | tr ' ' ',')" "${labels[@]}" \
    --tag "$IMAGE:$VERSION" -f Dockerfile .
  for p in $PLATFORMS; do
    docker buildx build --load --platform "$p" "${labels[@]}" \
      --tag "$IMAGE:$VERSION-${p%/*}-${p#*/}" -f Dockerfile .
  done
  echo "image.sh: $IMAGE:$VERSION ($PLATFORMS), built with docker buildx"
}

if command -v buildah >/dev/null; then
  build_with_buildah
elif command -v docker >/dev/null && docker buildx version >/dev/null 2>&1; then
  build_with_docker
else
  echo "image.sh: neither buildah nor docker buildx is installed" >&2
  exit 1
fi
