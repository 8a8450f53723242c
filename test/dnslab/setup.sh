#!/usr/bin/env bash
# setup.sh — start the DNS lab: an authoritative nsd serving signed, unsigned
# and deliberately broken zones, and a validating unbound in front of it, on
# loopback high ports, for smtp_exporter's end-to-end tests.
#
# Usage (as root, Debian/Ubuntu):
#   test/dnslab/setup.sh                  # install if needed, (re)start
#   test/dnslab/setup.sh --packages-only  # install what is missing, start nothing
#   . /tmp/smtp-exporter-dnslab/env       # addresses, names, paths
#   test/dnslab/selftest.sh               # check every record through unbound
#   test/dnslab/teardown.sh               # stop it, remove the work dir
#
# Environment (defaults in brackets):
#   SMTP_EXPORTER_DNSLAB_DIR  work dir [/tmp/smtp-exporter-dnslab]
#   DNSLAB_NSD_ADDR, DNSLAB_NSD_PORT            nsd [127.0.53.1, 10053]
#   DNSLAB_RESOLVER_ADDR, DNSLAB_RESOLVER_PORT  unbound [127.0.53.1, 10054]
#   DNSLAB_MX1_ADDR, DNSLAB_MX2_ADDR, DNSLAB_DOWN_ADDR, DNSLAB_BADPTR_ADDR,
#   DNSLAB_OTHER_ADDR, DNSLAB_ALL1_ADDR, DNSLAB_ALL2_ADDR
#                             the hosts' addresses, with PTRs: one 127.x.y.0/24
#                             [127.0.25.1, .2, .3, .4, .5, .6, .7]
#   DNSLAB_MTA_STS_ADDR       mta-sts.mx3.lab.test, no PTR [127.0.25.10]
#   DNSLAB_ADDR6              every AAAA record [::1]
#   FORCE_NEW_KEYS=1          new DNSSEC keys (and so a new trust anchor)
#
# Packages (nsd, unbound, ldnsutils, openssl, iproute2) are installed if
# missing, under a policy-rc.d that keeps their services from starting. The
# lab runs its own nsd and unbound with their own configuration, pid files
# and logs under the work dir; /etc/nsd, /etc/unbound and every system
# service are left alone. The lab runs in the network namespace
# smtp-exporter-test (test/lib.sh in_test_netns), like the test Postfix:
# reach it from there (ip netns exec smtp-exporter-test CMD).
# Re-running restarts the lab with fresh zones and
# the replaceable records reset to their placeholders; keys are kept.
set -euo pipefail

log() { printf 'dnslab setup: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=test/dnslab/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root"
dnslab_config

prepare_dir() {
  mkdir -p "$DNSLAB_DIR"/{keys,records,zones,nsd,run,log,state}
  [[ ${FORCE_NEW_KEYS:-0} != 1 ]] || rm -rf "${DNSLAB_DIR:?}/keys"/*
  rm -f "$DNSLAB_DIR/records"/*.records "$DNSLAB_DIR/zones"/*
  cp "$DNSLAB_HERE/zones/lab.test.records.in" "$DNSLAB_DIR/records/$DNSLAB_ZONE.records"
}

# ensure_free ADDR PORT: nothing but the lab may hold the lab's ports; a
# lab process just stopped may take a moment to let go.
ensure_free() {
  for _ in $(seq 30); do tcp_listening "$1" "$2" || return 0; sleep 0.1; done
  die "something else listens on $1:$2; choose other DNSLAB_* ports"
}

publish_zones() {
  local zone
  for zone in $(dnslab_zones); do dnslab_publish "$zone"; done
  dnslab_trust_anchor
}

start_nsd() {
  dnslab_render "$DNSLAB_HERE/nsd.conf.in" >"$DNSLAB_DIR/nsd.conf"
  nsd-checkconf "$DNSLAB_DIR/nsd.conf" || die "nsd-checkconf failed"
  : >"$DNSLAB_DIR/log/nsd.log"
  nsd -c "$DNSLAB_DIR/nsd.conf" || { tail -n 20 "$DNSLAB_DIR/log/nsd.log" >&2; die "nsd did not start"; }
  dnslab_wait_zones nsd "$DNSLAB_NSD_ADDR" "$DNSLAB_NSD_PORT"
}

start_unbound() {
  dnslab_render "$DNSLAB_HERE/unbound.conf.in" >"$DNSLAB_DIR/unbound.conf"
  unbound-checkconf "$DNSLAB_DIR/unbound.conf" >/dev/null || die "unbound-checkconf failed"
  : >"$DNSLAB_DIR/log/unbound.log"
  unbound -c "$DNSLAB_DIR/unbound.conf" ||
    { tail -n 20 "$DNSLAB_DIR/log/unbound.log" >&2; die "unbound did not start"; }
  dnslab_wait_zones unbound "$DNSLAB_RESOLVER_ADDR" "$DNSLAB_RESOLVER_PORT"
  dnslab_check_secure
}

dnslab_install_packages
[[ ${1:-} != --packages-only ]] || exit 0
in_test_netns "$@"
dnslab_stop unbound
dnslab_stop nsd
ensure_free "$DNSLAB_NSD_ADDR" "$DNSLAB_NSD_PORT"
ensure_free "$DNSLAB_RESOLVER_ADDR" "$DNSLAB_RESOLVER_PORT"
prepare_dir
publish_zones
start_nsd
start_unbound
dnslab_names
dnslab_write_env
log "nsd on $DNSLAB_AUTH, validating unbound on $DNSLAB_RESOLVER; settings in $DNSLAB_DIR/env"
