#!/usr/bin/env bash
# run.sh — DANE, MTA-STS, TLS-RPT, OCSP stapling and key exchange end to
# end: the exporter against the DNS lab's signed zones and a real Postfix,
# every verdict held against an independent tool.
#
# Usage (as root, Debian): test/security/run.sh      (make e2e-security)
#
# Starts the DNS lab (test/dnslab/setup.sh) and Postfix (test/postfix/
# setup.sh) on mx1's and mx2's addresses, each greeting as its host with a
# certificate for it from the test CA; mx2 also serves the CA (a DANE-TA
# chain). Publishes with resign.sh (lab.test, names below under lab.test):
#   _25._tcp.mx1     3 1 1 of mx1's key and of a key not yet served (rollover)
#   _25._tcp.mx2     2 0 1 of the test CA (DANE-TA)
#   daneno           on mx1's address; its TLSA names the unserved key only
#   daneerr          on mx1's address; its TLSA is a CNAME into bogus.lab.test
#   sec              MX mx1, mx2; MTA-STS (enforce) and TLS-RPT
#   stsbad           MX mx1, mx.insecure.lab.test; MTA-STS, a TLS-RPT with
#                    an ftp: URI
#   danenone         on mx1's address, no TLSA (NXDOMAIN, signed denial)
#   daneunusable     on mx1's address; its TLSA is usage 1 (PKIX-EE: unusable)
#   danebad          MX daneno, daneerr, mx.insecure.lab.test, danenone,
#                    daneunusable; no policy
#   nosts            MX mx1; no policy
# and probes them, with insecure.lab.test (unsigned: no AD), through three
# modules: "security" (dane, mta_sts, tlsrpt), "require" (require_dane,
# require_mta_sts) and "ocsp" (require_ocsp_staple). The MTA-STS policy is
# served over HTTPS by openssl s_server -WWW on the lab's MTA-STS address,
# port 443, with a certificate for mta-sts.sec and mta-sts.stsbad from the
# test CA. Ground truth: openssl s_client -dane_tlsa_rrdata per endpoint
# (DANE verdict, key exchange group, OCSP staple), drill -D (AD bit,
# SERVFAIL), curl --cacert (the policy's mode and max_age). Postfix's log
# shows one clean session per endpoint (STARTTLS, QUIT), failed or not.
# Postfix's smtpd has no OCSP stapling setting (openssl sees "no response
# sent"): the test shows probe_smtp_ocsp_stapled 0 and require_ocsp_staple
# failing with ocsp_missing; a stapled staple is left to the in-process
# tests.
# Prints "security: N passed, M failed"; exits non-zero on a failure.
# Environment: KEEP_LAB=1 leaves the lab, Postfix and the policy server
# running (records published) afterwards.
# Everything runs in the network namespace smtp-exporter-test (test/lib.sh
# in_test_netns); nothing of the machine's own network is touched.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
log() { printf 'security: %s\n' "$*" >&2; }
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
policy_pid=
cleanup() {
  [[ -z $exporter_pid ]] || kill "$exporter_pid" 2>/dev/null || true
  if [[ ${KEEP_LAB:-0} != 1 ]]; then
    [[ -z $policy_pid ]] || kill "$policy_pid" 2>/dev/null || true
    "$repo/test/postfix/teardown.sh" >/dev/null 2>&1 || true
    "$repo/test/dnslab/teardown.sh" >/dev/null 2>&1 || true
    rm -rf "$work"
  else
    log "keeping the lab, Postfix, the policy server (pid $policy_pid) and $work"
  fi
}
trap cleanup EXIT

# shellcheck source=test/security/lib.sh
. "$here/lib.sh"
# shellcheck source=test/security/expect.sh
. "$here/expect.sh"

# --- 1. the lab, Postfix on the MX addresses, the records --------------------
"$repo/test/dnslab/setup.sh"
# shellcheck source=/dev/null
. "${SMTP_EXPORTER_DNSLAB_DIR:-/tmp/smtp-exporter-dnslab}/env"
POSTSCREEN_GREET_WAIT=1 POSTFIX_EXTRA_ADDRS="$DNSLAB_MX1_ADDR=$DNSLAB_MX1_HOST $DNSLAB_MX2_ADDR=$DNSLAB_MX2_HOST" \
  "$repo/test/postfix/setup.sh"
# shellcheck source=/dev/null
. "${SMTP_EXPORTER_POSTFIX_DIR:-/tmp/smtp-exporter-postfix}/env"
serve_ca_chain "$DNSLAB_MX2_ADDR"
make_certs
lab_records >"$work/records"
"$repo/test/dnslab/resign.sh" "$work/records"
start_policy_server
sleep $((SMTP_TEST_GREET_TTL_SECONDS + 1)) # every session meets postscreen's pregreet test

# --- 2. the exporter and the probes ---------------------------------------------
start_exporter
PROBES=(
  "sec security sec.$DNSLAB_ZONE" "stsbad security stsbad.$DNSLAB_ZONE"
  "danebad security danebad.$DNSLAB_ZONE" "insecure security $DNSLAB_INSECURE_DOMAIN"
  "secreq require sec.$DNSLAB_ZONE" "nosts require nosts.$DNSLAB_ZONE"
  "insecreq require $DNSLAB_INSECURE_DOMAIN" "ocsp ocsp sec.$DNSLAB_ZONE"
)
since=$(($(wc -l <"$SMTP_TEST_MAILLOG") + 1))
probe_all
load_answers
check_postfix_log "$since" # before openssl's sessions enter the log

# --- 3. ground truth, then every check -------------------------------------------
openssl_facts
check_sec
check_stsbad
check_danebad
check_insecure
check_required

if ((checks_failed > 0)); then
  echo "--- exporter log (last 40 lines)" >&2
  tail -n 40 "$work/exporter.log" >&2
fi
checks_summary security
