#!/usr/bin/env bash
# check.sh — checks what `make tarballs` left in .tarballs/: one tarball
# per platform of PLATFORMS, each matching sha256sums.txt and holding the
# binary, LICENSE, README.md and CHANGELOG.md. The binary this machine can
# run must report VERSION, the revision, the branch and a build date with
# --version; every other one must be built for its platform with CGO off
# (`go version -m`) and carry the same revision and build date strings (the
# linker's -X values; -trimpath keeps -ldflags out of the build info).
# `make release-test` builds the tarballs and runs it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
VERSION=${VERSION:-$(cat VERSION)}
PLATFORMS=${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64}
revision=$(git rev-parse HEAD)
branch=$(git rev-parse --abbrev-ref HEAD)
native=$(go env GOOS)/$(go env GOARCH)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
binaries=()
# shellcheck source=test/checks.sh
. "$repo/test/checks.sh"

check "sha256sums.txt matches" bash -c 'cd .tarballs && sha256sum --quiet --strict -c sha256sums.txt'
for p in $PLATFORMS; do
  os=${p%/*} arch=${p#*/} ext=
  [[ $os == windows ]] && ext=.exe
  name=smtp_exporter-$VERSION.$os-$arch
  tarball=.tarballs/$name.tar.gz
  if ! grep -q " $name.tar.gz\$" .tarballs/sha256sums.txt; then fail "$name.tar.gz not in sha256sums.txt"; continue; fi
  tar -C "$work" -xzf "$tarball"
  for f in "smtp_exporter$ext" LICENSE README.md CHANGELOG.md; do
    [[ -s $work/$name/$f ]] || fail "$name lacks $f"
  done
  bin=$work/$name/smtp_exporter$ext
  settings=$(go version -m "$bin")
  if grep -qE "GOOS=$os\$" <<<"$settings" && grep -qE "GOARCH=$arch\$" <<<"$settings" &&
    grep -qE "CGO_ENABLED=0\$" <<<"$settings"; then
    pass "$name: built for $os/$arch with CGO off"
  else
    fail "$name: build settings"; echo "$settings"
  fi
  binaries+=("$bin")
done

# The native binary tells its stamp; the others must carry the same one.
native_name=smtp_exporter-$VERSION.${native%/*}-${native#*/}
"$work/$native_name/smtp_exporter" --version >"$work/version" 2>&1
cat "$work/version"
build_date=$(sed -n 's/^ *build date: *//p' "$work/version")
if grep -qF "smtp_exporter, version $VERSION (branch: $branch, revision: $revision)" "$work/version" &&
  [[ $build_date =~ ^[0-9]{8}-[0-9]{2}:[0-9]{2}:[0-9]{2}$ ]]; then
  pass "$native_name --version reports $VERSION, $branch, $revision, $build_date"
else
  fail "$native_name --version"
fi
for bin in "${binaries[@]}"; do
  if [[ -n $build_date ]] && grep -qaF "$revision" "$bin" && grep -qaF "$build_date" "$bin"; then
    pass "$(basename "$(dirname "$bin")") carries revision $revision and build date $build_date"
  else
    fail "$(basename "$(dirname "$bin")") lacks the stamp"
  fi
done
checks_summary release
