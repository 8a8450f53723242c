#!/usr/bin/env bash
# tarballs.sh — packs each cross-built binary under .build/OS-ARCH/ with
# LICENSE, README.md and CHANGELOG.md into
# .tarballs/BIN-VERSION.OS-ARCH.tar.gz (the Prometheus release layout) and
# writes .tarballs/sha256sums.txt. Called by `make tarballs`, which sets
# PLATFORMS, VERSION and BIN. The archives are reproducible: sorted names,
# the commit's time, owner root.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${PLATFORMS:?}" "${VERSION:?}" "${BIN:?}"
mtime=$(git log -1 --format=%cI 2>/dev/null || echo 1970-01-01T00:00:00Z)
out=.tarballs
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

rm -rf "$out"
mkdir -p "$out"
for p in $PLATFORMS; do
  os=${p%/*} arch=${p#*/} ext=
  [[ $os == windows ]] && ext=.exe
  name=$BIN-$VERSION.$os-$arch
  mkdir "$stage/$name"
  cp ".build/$os-$arch/$BIN$ext" LICENSE README.md CHANGELOG.md "$stage/$name/"
  tar -C "$stage" --sort=name --mtime="$mtime" --owner=0 --group=0 --numeric-owner \
    -cf - "$name" | gzip -9n >"$out/$name.tar.gz"
done
(cd "$out" && sha256sum -- *.tar.gz >sha256sums.txt)
echo "tarballs.sh: $(ls "$out"/*.tar.gz | wc -l) tarballs and sha256sums.txt in $out/"
