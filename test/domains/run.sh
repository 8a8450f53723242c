#!/usr/bin/env bash
# run.sh — mail domains end to end: the exporter resolves every domain of
# the DNS lab through the lab's validating resolver and probes the MX hosts
# on a real Postfix, as a sending MTA would find them.
#
# Usage (as root, Debian): test/domains/run.sh      (make e2e-domains)
#
# Starts the DNS lab (test/dnslab/setup.sh) and Postfix (test/postfix/
# setup.sh) serving port 25 on the lab hosts' addresses too (mx1, mx2,
# badptr, all's two A and ::1; nothing on mxdown's), each greeting as its
# host name with a certificate for it. Builds the exporter with modules that
# resolve through the lab (dns.server, dns.dnssec: true, targets: mx,
# reverse_dns: true): "lab" (first address), "all" (addresses: all) and
# "first" (max_hosts: 1), probes every lab domain at once, and checks:
#   - every series of every answer against what SPEC says of the lab's case
#     (a series left unchecked is a failure, but for measurements: times,
#     hashes, certificate dates and details, extensions);
#   - against drill through the same resolver: the MX records (preference,
#     name; the one max_hosts keeps is the first in RFC 5321 order), each
#     host's addresses (ip labels, probe_smtp_host_addresses), the AD bit
#     (probe_smtp_mx_dnssec_secure, probe_smtp_host_dnssec_secure) and
#     forward-confirmed reverse DNS (probe_smtp_fcrdns);
#   - Postfix logged one clean session per endpoint that came up (no
#     PREGREET, pipelining, bare newline or lost connection), each
#     "ehlo=2 starttls=1 quit=1 commands=4", and nothing on 127.0.0.1.
# Prints "domains: N passed, M failed"; exits non-zero on a failure.
# Environment: KEEP_LAB=1 leaves the lab and Postfix running afterwards.
# Everything runs in the network namespace smtp-exporter-test (test/lib.sh
# in_test_netns); nothing of the machine's own network is touched.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
log() { printf 'domains: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=test/lib.sh
. "$repo/test/lib.sh"
# shellcheck source=test/answers.sh
. "$repo/test/answers.sh"
# Packages first: the namespace has no route out.
"$repo/test/dnslab/setup.sh" --packages-only
"$repo/test/postfix/setup.sh" --packages-only
command -v curl >/dev/null || apt_install_missing "" curl
TEST_NETNS_SCRIPT=$here/run.sh in_test_netns "$@"

work=$(mktemp -d)
exporter_pid=
cleanup() {
  [[ -z $exporter_pid ]] || kill "$exporter_pid" 2>/dev/null || true
  if [[ ${KEEP_LAB:-0} != 1 ]]; then
    "$repo/test/postfix/teardown.sh" >/dev/null 2>&1 || true
    "$repo/test/dnslab/teardown.sh" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

passes=0
failures=0
pass() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# --- 1. the lab and Postfix on the MX hosts' addresses -----------------------
"$repo/test/dnslab/setup.sh"
# shellcheck source=/dev/null
. "${SMTP_EXPORTER_DNSLAB_DIR:-/tmp/smtp-exporter-dnslab}/env"
[[ $DNSLAB_ADDR6 == ::1 ]] || die "the lab's AAAA records must be ::1 (DNSLAB_ADDR6), the address Postfix serves"
ip -6 addr show dev lo | grep -q 'inet6 ::1/' || die "the namespace's loopback has no ::1 (IPv6 disabled?)"
POSTSCREEN_GREET_WAIT=1 POSTFIX_EXTRA_ADDRS="$DNSLAB_MX1_ADDR=$DNSLAB_MX1_HOST $DNSLAB_MX2_ADDR=$DNSLAB_MX2_HOST
  $DNSLAB_BADPTR_ADDR=$DNSLAB_BADPTR_HOST $DNSLAB_ALL1_ADDR=$DNSLAB_ALL_HOST $DNSLAB_ALL2_ADDR=$DNSLAB_ALL_HOST
  ::1=$DNSLAB_ALL_HOST" "$repo/test/postfix/setup.sh"
# shellcheck source=/dev/null
. "${SMTP_EXPORTER_POSTFIX_DIR:-/tmp/smtp-exporter-postfix}/env"
if tcp_listening "$DNSLAB_DOWN_ADDR" 25; then
  fail "something listens on mxdown's $DNSLAB_DOWN_ADDR:25"
else
  pass
fi
sleep $((SMTP_TEST_GREET_TTL_SECONDS + 1)) # every probe meets postscreen's pregreet test

# --- 2. the exporter ------------------------------------------------------------
(cd "$repo" && go build -o "$work/smtp_exporter" .)
module() { # NAME EXTRA-KEYS
  printf '  %s:\n' "$1"
  printf '    %s\n' "timeout: 10s" "targets: mx" "ehlo_hostname: probe.smtp-exporter.test" \
    "tls_config: {ca_file: $SMTP_TEST_CA_FILE}" "dns: {server: \"$DNSLAB_RESOLVER\", dnssec: true}" \
    "reverse_dns: true" "ports: [{port: 25, tls: starttls}]" "$2"
}
{
  echo modules:
  module lab "addresses: first"
  module all "addresses: all"
  module first "max_hosts: 1"
} >"$work/config.yml"
"$work/smtp_exporter" --config.check --config.file="$work/config.yml" >/dev/null
listen=127.0.0.1:10597
"$work/smtp_exporter" --config.file="$work/config.yml" --web.listen-address=$listen \
  --log.level=debug >"$work/exporter.log" 2>&1 &
exporter_pid=$!
for _ in $(seq 50); do curl -fs "http://$listen/-/ready" >/dev/null && break; sleep 0.1; done

# --- 3. every domain at once --------------------------------------------------------
# PROBES: "FILE MODULE DOMAIN": each answer is kept in $work/FILE.txt.
PROBES=(
  "mx3 lab $DNSLAB_MX_DOMAIN" "mxtie lab $DNSLAB_MXTIE_DOMAIN" "nullmx lab $DNSLAB_NULLMX_DOMAIN"
  "nullmixed lab $DNSLAB_NULLMIXED_DOMAIN" "implicit lab $DNSLAB_IMPLICIT_DOMAIN"
  "mxcname lab $DNSLAB_MXCNAME_DOMAIN" "mxip lab $DNSLAB_MXIP_DOMAIN" "mxlocal lab $DNSLAB_MXLOCAL_DOMAIN"
  "mxnoaddr lab $DNSLAB_MXNOADDR_DOMAIN" "mxnxhost lab $DNSLAB_MXNXHOST_DOMAIN"
  "mxbadptr lab $DNSLAB_MXBADPTR_DOMAIN" "nx lab $DNSLAB_NX_DOMAIN" "bogus lab $DNSLAB_BOGUS_DOMAIN"
  "expired lab $DNSLAB_EXPIRED_DOMAIN" "insecure lab $DNSLAB_INSECURE_DOMAIN"
  "all all $DNSLAB_ALL_HOST" "mx3all all $DNSLAB_MX_DOMAIN"
  "mx3first first $DNSLAB_MX_DOMAIN" "mxtiefirst first $DNSLAB_MXTIE_DOMAIN"
)
since=$(($(wc -l <"$SMTP_TEST_MAILLOG") + 1))
start=$EPOCHREALTIME
curls=()
for p in "${PROBES[@]}"; do
  read -r file mod domain <<<"$p"
  curl -fsS -H 'X-Prometheus-Scrape-Timeout-Seconds: 10' \
    "http://$listen/probe?target=$domain&module=$mod" -o "$work/$file.txt" &
  curls+=($!)
done
for pid in "${curls[@]}"; do wait "$pid" || die "a probe request failed"; done
awk -v s="$start" -v e="$EPOCHREALTIME" -v n="${#PROBES[@]}" \
  'BEGIN { printf "domains: %d probes at once took %.2f s\n", n, e - s }'

# shellcheck source=test/domains/lib.sh
. "$here/lib.sh"
check_answers
check_postfix_log

if ((failures > 0)); then
  echo "--- exporter log (last 40 lines)" >&2
  tail -n 40 "$work/exporter.log" >&2
fi
echo "domains: $passes passed, $failures failed"
((failures == 0))
