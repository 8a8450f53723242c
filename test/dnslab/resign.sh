#!/usr/bin/env bash
# resign.sh — replace a lab zone's replaceable records (the TLSA
# placeholders of lab.test.), re-sign the zone and have the lab serve it.
#
# Usage (as root, after setup.sh):
#   test/dnslab/resign.sh [--zone ZONE] [--append] FILE|-
#
# FILE (or stdin) holds zone-file lines, names relative to ZONE or absolute,
# for example from tlsa.sh:
#   _25._tcp.mx1 TLSA 3 1 1 <sha-256 of the SubjectPublicKeyInfo>
# ZONE is one of the lab's zones (default lab.test; the signed ones are
# re-signed with their own key). The records replace ZONE's replaceable set
# or, with --append, join it; test/dnslab/zones/lab.test.records.in restores
# the placeholders. nsd reloads the zone, unbound drops its cache, and the
# script returns once unbound serves the new serial. A zone nsd-checkzone
# rejects leaves the previous records in force.
set -euo pipefail

log() { printf 'dnslab resign: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=test/dnslab/lib.sh
. "$(dirname "$0")/lib.sh"
in_test_netns "$@" # where setup.sh started the lab

zone=lab.test
append=0
while [[ $# -gt 1 ]]; do
  case $1 in
  --zone) zone=${2%.}; shift 2 ;;
  --append) append=1; shift ;;
  *) die "unknown option $1" ;;
  esac
done
[[ $# -eq 1 ]] || die "usage: resign.sh [--zone ZONE] [--append] FILE|-"
[[ $(id -u) -eq 0 ]] || die "must run as root"
dnslab_load_env
[[ " $(dnslab_zones) " == *" $zone "* ]] || die "$zone is not one of the lab's zones: $(dnslab_zones)"

records=$DNSLAB_DIR/records/$zone.records
new=$(cat -- "$1")
touch "$records"
cp "$records" "$records.previous"
if [[ $append == 1 ]]; then printf '%s\n' "$new" >>"$records"; else printf '%s\n' "$new" >"$records"; fi
if ! (dnslab_publish "$zone"); then
  mv -f "$records.previous" "$records"
  dnslab_publish "$zone"
  die "the new records of $zone were rejected; the previous ones stay in force"
fi
rm -f "$records.previous"
serial=$(dnslab_file_serial "$zone")
dnslab_reload nsd
dnslab_wait_serial "$DNSLAB_NSD_ADDR" "$DNSLAB_NSD_PORT" "$zone" "$serial" nsd
dnslab_reload unbound
dnslab_wait_serial "$DNSLAB_RESOLVER_ADDR" "$DNSLAB_RESOLVER_PORT" "$zone" "$serial" unbound
log "$zone serial $serial served by nsd and unbound"
