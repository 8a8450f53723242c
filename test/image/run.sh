#!/usr/bin/env bash
# run.sh — builds the container image with buildah (vfs storage, chroot
# isolation: no container engine or daemon needed) and checks it as a user
# would run it.
#
# Usage (as root, Debian): test/image/run.sh
#
# `make image` builds linux/amd64 and linux/arm64 into one manifest list;
# then, on the amd64 image:
#   - the image config: user 65534, port 10587 exposed, OCI labels;
#   - the unpacked image is under 25 MB and holds the build machine's CA
#     bundle; the arm64 image holds an aarch64 binary;
#   - `--version` inside the image shows the stamped version, revision,
#     branch and build date;
#   - the exporter, run inside the image (buildah run shares the host
#     network under chroot isolation) with a config and CA copied in,
#     probes the test Postfix (test/postfix/setup.sh) and verifies its
#     certificates against that CA.
# It removes its containers and images, and tears the Postfix down unless
# KEEP_POSTFIX=1. IMAGE_TEST_PORT (default 10597) is where the exporter in
# the image listens, on 127.0.0.1.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
log() { printf 'image/run.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=test/lib.sh
. "$repo/test/lib.sh"
# shellcheck source=test/checks.sh
. "$repo/test/checks.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root"
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
image=localhost/smtp-exporter-image-test
version=$(cat "$repo/VERSION")
port=${IMAGE_TEST_PORT:-10597}
work=$(mktemp -d)
amd64_ctr=smtp-exporter-image-test-amd64
arm64_ctr=smtp-exporter-image-test-arm64
exporter_pid=

cleanup() {
  if [[ -n $exporter_pid ]]; then
    kill "$exporter_pid" 2>/dev/null || true
    wait "$exporter_pid" 2>/dev/null || true
  fi
  buildah rm "$amd64_ctr" "$arm64_ctr" >/dev/null 2>&1 || true
  buildah manifest rm "$image:$version" >/dev/null 2>&1 || true
  buildah rmi "$image:$version-linux-amd64" "$image:$version-linux-arm64" >/dev/null 2>&1 || true
  [[ ${KEEP_POSTFIX:-0} == 1 ]] || "$repo/test/postfix/teardown.sh" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

apt_install_missing "" buildah ca-certificates curl
tcp_listening 127.0.0.1 "$port" && die "127.0.0.1:$port is taken; set IMAGE_TEST_PORT"

echo "--- make image (linux/amd64 and linux/arm64)"
make -C "$repo" --no-print-directory image IMAGE="$image" >/dev/null
revision=$(git -C "$repo" rev-parse HEAD)
branch=$(git -C "$repo" rev-parse --abbrev-ref HEAD)

config_of() { buildah inspect --type image "$1" | jq -c "$2"; }

echo "--- the manifest list and the image config"
platforms=$(buildah manifest inspect "$image:$version" | jq -r '[.manifests[].platform | .os + "/" + .architecture] | sort | join(" ")')
check "manifest list holds linux/amd64 and linux/arm64 ($platforms)" test "$platforms" = "linux/amd64 linux/arm64"
amd64=$image:$version-linux-amd64
check "user is 65534" test "$(config_of "$amd64" '.OCIv1.config.User')" = '"65534:65534"'
check "port 10587 exposed" test "$(config_of "$amd64" '.OCIv1.config.ExposedPorts | keys')" = '["10587/tcp"]'
check "OCI version and revision labels" test \
  "$(config_of "$amd64" '.OCIv1.config.Labels | [."org.opencontainers.image.version", ."org.opencontainers.image.revision"]')" = "[\"$version\",\"$revision\"]"
check "arm64 image is arm64" test "$(config_of "$image:$version-linux-arm64" '.OCIv1.architecture')" = '"arm64"'

echo "--- the image's files"
ctr=$amd64_ctr
buildah rm "$amd64_ctr" "$arm64_ctr" >/dev/null 2>&1 || true
buildah from --quiet --pull-never --name "$ctr" "$amd64" >/dev/null
buildah from --quiet --pull-never --arch arm64 --name "$arm64_ctr" "$image:$version-linux-arm64" >/dev/null
root=$(buildah mount "$ctr")
arm_root=$(buildah mount "$arm64_ctr")
size=$(du -sb "$root" | cut -f1)
check "image is under 25 MB ($size bytes)" test "$size" -lt 25000000
check "CA bundle is the build machine's" cmp -s "$root/etc/ssl/certs/ca-certificates.crt" /etc/ssl/certs/ca-certificates.crt
# ELF e_machine, bytes 18-19: 0x3e x86-64, 0xb7 AArch64.
elf_machine() { od -An -tx1 -j18 -N2 "$1" | tr -d ' \n'; }
check "amd64 binary is x86-64" test "$(elf_machine "$root/bin/smtp_exporter")" = 3e00
check "arm64 binary is AArch64" test "$(elf_machine "$arm_root/bin/smtp_exporter")" = b700
buildah umount "$ctr" "$arm64_ctr" >/dev/null

echo "--- --version inside the image"
buildah run "$ctr" -- /bin/smtp_exporter --version >"$work/version" 2>&1
cat "$work/version"
check "version, branch and revision stamped" \
  grep -qF "smtp_exporter, version $version (branch: $branch, revision: $revision)" "$work/version"
check "build date stamped" grep -qE '^ +build date: +[0-9]{8}-[0-9]{2}:[0-9]{2}:[0-9]{2}$' "$work/version"

echo "--- a probe of the test Postfix from inside the image"
"$repo/test/postfix/setup.sh"
# shellcheck source=/dev/null
. "${SMTP_EXPORTER_POSTFIX_DIR:-/tmp/smtp-exporter-postfix}/env"
ca_in_image=/etc/smtp_exporter/ca.crt
{ printf 'modules:\n  postfix:\n'; sed "s|$SMTP_TEST_CA_FILE|$ca_in_image|" "$SMTP_TEST_MODULE_FILE"; } >"$work/config.yml"
grep -qF "ca_file: $ca_in_image" "$work/config.yml" || die "the module file names no ca_file to replace"
buildah copy --chmod 0644 "$ctr" "$work/config.yml" /etc/smtp_exporter/config.yml >/dev/null
buildah copy --chmod 0644 "$ctr" "$SMTP_TEST_CA_FILE" "$ca_in_image" >/dev/null
buildah run "$ctr" -- /bin/smtp_exporter --config.file=/etc/smtp_exporter/config.yml \
  --web.listen-address="127.0.0.1:$port" >"$work/exporter.log" 2>&1 &
exporter_pid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null && break
  sleep 0.1
done
check "exporter in the image answers /-/healthy" curl -fs -o /dev/null "http://127.0.0.1:$port/-/healthy"
exporter_uid=$(ps -o uid= -p "$(pgrep -f -x "/bin/smtp_exporter --config.file=/etc/smtp_exporter/config.yml --web.listen-address=127.0.0.1:$port")" | tr -d ' ')
check "exporter in the image runs as 65534" test "$exporter_uid" = 65534
curl -fs "http://127.0.0.1:$port/probe?module=postfix&target=$SMTP_TEST_HOST" >"$work/probe" || true
check "probe_success 1" grep -qx 'probe_success 1' "$work/probe"
for p in "$SMTP_TEST_PORT_SUBMISSION" "$SMTP_TEST_PORT_SMTPS"; do
  check "certificate on port $p verified against the config's CA" \
    grep -qE "^probe_smtp_cert_verified\{host=\"$SMTP_TEST_HOST\",port=\"$p\"\} 1\$" "$work/probe"
done
if [[ $checks_failed -gt 0 ]]; then
  echo "--- probe answer"; cat "$work/probe"; echo "--- exporter log"; cat "$work/exporter.log"
fi
checks_summary image
