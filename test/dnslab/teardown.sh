#!/usr/bin/env bash
# teardown.sh — stop the DNS lab started by setup.sh and remove its work dir.
#
# Usage (as root):
#   test/dnslab/teardown.sh
#
# Environment:
#   SMTP_EXPORTER_DNSLAB_DIR  work dir (default /tmp/smtp-exporter-dnslab)
#   KEEP_DNSLAB=1             keep the work dir (zones, keys, logs)
#   PURGE_PACKAGES=1          also purge the packages setup.sh installed
#
# It ends the lab's unbound and nsd by the PIDs they recorded in the work
# dir, and nothing else; no system service was started or changed. Safe to
# run more than once.
set -euo pipefail

log() { printf 'dnslab teardown: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=test/dnslab/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root"
DNSLAB_DIR=${SMTP_EXPORTER_DNSLAB_DIR:-/tmp/smtp-exporter-dnslab}
DNSLAB_DIR=${DNSLAB_DIR%/}
[[ $DNSLAB_DIR == /?* ]] || die "SMTP_EXPORTER_DNSLAB_DIR must be an absolute path"
[[ -d $DNSLAB_DIR ]] || exit 0

dnslab_stop unbound
dnslab_stop nsd

installed=$DNSLAB_DIR/state/installed_packages
if [[ ${PURGE_PACKAGES:-0} == 1 && -s $installed ]]; then
  log "purging $(sort -u "$installed" | tr '\n' ' ')"
  # shellcheck disable=SC2046 # one package name per line
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 purge -y -qq $(sort -u "$installed") >/dev/null
fi

if [[ ${KEEP_DNSLAB:-0} == 1 ]]; then
  log "keeping $DNSLAB_DIR"
else
  rm -rf "$DNSLAB_DIR"
fi
test_netns_release
