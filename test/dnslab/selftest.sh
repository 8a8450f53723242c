#!/usr/bin/env bash
# selftest.sh — check, through the lab's validating unbound and with drill,
# every record issues 11 and 14 rely on: MX order, null and implicit MX, the
# MX names a sender reports, NXDOMAIN against NODATA, AD on the signed zone
# and not on the unsigned one, SERVFAIL on the bogus and expired zones, PTRs
# and FCrDNS, TLSA, MTA-STS and TLS-RPT; then that tlsa.sh computes records
# openssl's DANE check accepts and resign.sh publishes them signed.
#
# Usage (as root, after setup.sh): test/dnslab/selftest.sh
#
# Talks to the lab's addresses only, plus an openssl s_server on the
# resolver's address and a free port, stopped on exit. Leaves the lab's
# records as setup.sh made them. Ends with "dnslab: N passed, M failed" and
# exits non-zero if any check failed.
set -euo pipefail

log() { printf 'dnslab selftest: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=test/dnslab/lib.sh
. "$(dirname "$0")/lib.sh"
in_test_netns "$@" # where setup.sh started the lab
dnslab_load_env

Z=$DNSLAB_ZONE
PLACEHOLDER=008c55c8aab55d19d9ea92aa509e8a742153388fcd45c2333aeb7f8aefebe208
passes=0
failures=0
pass() { printf 'PASS  %s\n' "$*"; passes=$((passes + 1)); }
fail() { printf 'FAIL  %s\n' "$*"; failures=$((failures + 1)); }

# ask NAME TYPE [DRILL-OPTION...]: unbound's answer, with the DO bit set as
# a module with dns.dnssec does.
ask() {
  local name=$1 type=$2
  shift 2
  drill -D "$@" -p "$DNSLAB_RESOLVER_PORT" "@$DNSLAB_RESOLVER_ADDR" "$name" "$type" 2>&1
}

rcode_of() { sed -nE 's/^;; ->>HEADER<<- .*rcode: ([A-Z]+),.*/\1/p' <<<"$1"; }
ad_of() { if grep -qE '^;; flags:.* ad[ ;]' <<<"$1"; then echo ad; else echo noad; fi; }

# records_of ANSWER: the answer section's records but signatures, as
# "TYPE RDATA", joined by "|", sorted by type, then a numeric first field
# (an MX preference), then the rest: for MX the order RFC 5321 asks.
records_of() {
  awk '/^;; ANSWER SECTION:/ { on = 1; next } /^$/ { on = 0 }
    on && !/^;/ && $4 != "RRSIG" { $1 = $2 = $3 = ""; sub(/^ +/, ""); sub(/ ;\{id = .*/, ""); print }' <<<"$1" |
    LC_ALL=C sort -k1,1 -k2,2n -k3 | paste -sd'|'
}

# expect NAME TYPE RCODE AD RECORDS [DRILL-OPTION...]: unbound answers NAME
# TYPE with RCODE, AD ("ad" or "noad") and exactly RECORDS (records_of form).
expect() {
  local name=$1 type=$2 rcode=$3 ad=$4 want=$5 out got
  shift 5
  out=$(ask "$name" "$type" "$@")
  got="$(rcode_of "$out") $(ad_of "$out") [$(records_of "$out")]"
  if [[ $got == "$rcode $ad [$want]" ]]; then
    pass "$name $type${*:+ ($*)}: $got"
  else
    fail "$name $type${*:+ ($*)}: got $got, want $rcode $ad [$want]"
  fi
}

check_mx() {
  expect "mx3.$Z" MX NOERROR ad "MX 10 mx1.$Z.|MX 20 mx2.$Z.|MX 30 mxdown.$Z."
  expect "mxtie.$Z" MX NOERROR ad "MX 10 mx1.$Z.|MX 10 mx2.$Z.|MX 20 mxdown.$Z."
  expect "nullmx.$Z" MX NOERROR ad "MX 0 ."
  expect "nullmixed.$Z" MX NOERROR ad "MX 0 .|MX 10 mx1.$Z."
  expect "implicit.$Z" MX NOERROR ad "" # NODATA
  expect "implicit.$Z" A NOERROR ad "A $DNSLAB_MX1_ADDR"
  expect "implicit.$Z" AAAA NOERROR ad "AAAA $DNSLAB_ADDR6"
  expect "nx.$Z" MX NXDOMAIN ad ""
  expect "mxcname.$Z" MX NOERROR ad "MX 10 mxalias.$Z."
  expect "mxalias.$Z" A NOERROR ad "A $DNSLAB_MX1_ADDR|CNAME mx1.$Z."
  expect "mxip.$Z" MX NOERROR ad "MX 10 $DNSLAB_MX1_ADDR."
  expect "mxlocal.$Z" MX NOERROR ad "MX 10 localhost."
  expect "mxnoaddr.$Z" MX NOERROR ad "MX 10 noaddr.$Z."
  expect "noaddr.$Z" A NOERROR ad ""
  expect "noaddr.$Z" AAAA NOERROR ad ""
  expect "mxnxhost.$Z" MX NOERROR ad "MX 10 nxhost.$Z."
  expect "nxhost.$Z" A NXDOMAIN ad ""
  expect "mxbadptr.$Z" MX NOERROR ad "MX 10 badptr.$Z."
}

check_hosts() {
  expect "mx1.$Z" A NOERROR ad "A $DNSLAB_MX1_ADDR"
  expect "mx2.$Z" A NOERROR ad "A $DNSLAB_MX2_ADDR"
  expect "mxdown.$Z" A NOERROR ad "A $DNSLAB_DOWN_ADDR"
  expect "badptr.$Z" A NOERROR ad "A $DNSLAB_BADPTR_ADDR"
  expect "other.$Z" A NOERROR ad "A $DNSLAB_OTHER_ADDR"
  expect "all.$Z" A NOERROR ad "$(printf 'A %s\n' "$DNSLAB_ALL1_ADDR" "$DNSLAB_ALL2_ADDR" |
    LC_ALL=C sort -k1,1 -k2,2n -k3 | paste -sd'|')"
  expect "all.$Z" AAAA NOERROR ad "AAAA $DNSLAB_ADDR6"
}

# check_dnssec: AD only on the signed zone, SERVFAIL where validation fails,
# though the data is there (CD shows it).
check_dnssec() {
  local child
  expect "insecure.$Z" MX NOERROR noad "MX 10 mx.insecure.$Z."
  expect "mx.insecure.$Z" A NOERROR noad "A $DNSLAB_MX1_ADDR"
  expect "_25._tcp.mx.insecure.$Z" TLSA NOERROR noad "TLSA 3 1 1 $PLACEHOLDER"
  for child in bogus expired; do
    expect "$child.$Z" MX SERVFAIL noad ""
    expect "mx.$child.$Z" A SERVFAIL noad ""
    expect "_25._tcp.mx.$child.$Z" TLSA SERVFAIL noad ""
    expect "$child.$Z" MX NOERROR noad "MX 10 mx.$child.$Z." -o CD
  done
  expect "$Z" DNSKEY NOERROR ad "DNSKEY $(awk '{ $1 = $2 = $3 = ""; sub(/^ +/, ""); sub(/ ;\{id = .*/, ""); print }' "$DNSLAB_ZONE_KEY.key")"
}

check_issue14_records() {
  expect "_25._tcp.mx1.$Z" TLSA NOERROR ad "TLSA 3 1 1 $PLACEHOLDER"
  expect "_25._tcp.mx2.$Z" TLSA NOERROR ad "TLSA 2 0 1 $PLACEHOLDER"
  expect "_25._tcp.mxdown.$Z" TLSA NXDOMAIN ad "" # DANE state "none"
  expect "_mta-sts.mx3.$Z" TXT NOERROR ad 'TXT "v=STSv1; id=dnslab1"'
  expect "mta-sts.mx3.$Z" A NOERROR ad "A $DNSLAB_MTA_STS_ADDR"
  expect "_smtp._tls.mx3.$Z" TXT NOERROR ad "TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@mx3.$Z\""
}

# ptr_name ADDR: the PTR name unbound gives for ADDR.
ptr_name() {
  ask "$1" PTR -x | awk '/^;; ANSWER SECTION:/ { on = 1; next } on && $4 == "PTR" { print $5; exit }'
}

# fcrdns ADDR: ADDR's PTR name has an A record that is ADDR.
fcrdns() {
  local name
  name=$(ptr_name "$1")
  [[ -n $name ]] && records_of "$(ask "$name" A)" | tr '|' '\n' | grep -qxF "A $1"
}

check_reverse() {
  local spec addr name holds got
  for spec in "MX1 mx1 yes" "MX2 mx2 yes" "DOWN mxdown yes" "BADPTR other no" \
    "OTHER other yes" "ALL1 all yes" "ALL2 all yes"; do
    read -r addr name holds <<<"$spec"
    addr=DNSLAB_${addr}_ADDR
    addr=${!addr}
    expect "$addr" PTR NOERROR noad "PTR $name.$Z." -x
    got=no
    fcrdns "$addr" && got=yes
    if [[ $got == "$holds" ]]; then pass "FCrDNS of $addr holds: $got"; else
      fail "FCrDNS of $addr holds: $got, want $holds"; fi
  done
}

# check_confinement: only the lab's names are answered, from loopback only.
check_confinement() {
  local out start ms
  start=$(date +%s%N)
  out=$(ask example.com A)
  ms=$((($(date +%s%N) - start) / 1000000))
  if [[ $(rcode_of "$out") == REFUSED ]] && ((ms < 1000)); then
    pass "example.com A: REFUSED in $ms ms, the Internet is never asked"
  else
    fail "example.com A: $(rcode_of "$out") in $ms ms, want REFUSED within 1 s"
  fi
  expect . NS REFUSED noad ""
  out=$(drill -p "$DNSLAB_NSD_PORT" "@$DNSLAB_NSD_ADDR" "$Z" SOA)
  if grep -qE '^;; flags:.* aa[ ;]' <<<"$out"; then pass "nsd answers $Z SOA with AA"; else
    fail "nsd answers $Z SOA without AA"; fi
  expect "mx3.$Z" MX NOERROR ad "MX 10 mx1.$Z.|MX 20 mx2.$Z.|MX 30 mxdown.$Z." -t
  check_listeners
}

# check_listeners: nsd and unbound listen, and only on loopback addresses.
check_listeners() {
  local name pid sockets
  for name in nsd unbound; do
    pid=$(dnslab_pid "$name") || { fail "$name is not running"; continue; }
    sockets=$(ss -Hlnptu | grep -F "pid=$pid," | awk '{ print $5 }' | sort -u)
    if [[ -n $sockets ]] && ! grep -qvE '^127\.' <<<"$sockets"; then
      pass "$name ($pid) listens on loopback only: $(paste -sd' ' <<<"$sockets")"
    else
      fail "$name ($pid) listens on: $(paste -sd' ' <<<"${sockets:-nothing}")"
    fi
  done
}

# check_rotation: unbound rotates equal records, so a consumer that does not
# sort MX records by itself meets a different order sooner or later.
check_rotation() {
  local firsts
  firsts=$(for _ in 1 2 3 4 5 6 7 8; do
    ask "mx3.$Z" MX | awk '/^;; ANSWER SECTION:/ { on = 1; next } on && $4 == "MX" { print $6; exit }'
  done | sort -u | wc -l)
  if ((firsts > 1)); then pass "MX order rotates: $firsts different first records in 8 answers"; else
    fail "MX order does not rotate: one first record in 8 answers"; fi
}

# --- DANE: tlsa.sh and resign.sh against openssl's own DANE check -------------

# start_tls_server DIR: an openssl s_server on the resolver's address and a
# free port, serving DIR's leaf certificate with its CA. Sets server_pid
# (for cleanup) and tls_port; run it outside a command substitution.
start_tls_server() {
  local port=
  openssl s_server -www -accept "$DNSLAB_RESOLVER_ADDR:0" -cert "$1/leaf.crt" -key "$1/leaf.key" \
    -cert_chain "$1/ca.crt" >"$1/s_server.out" 2>&1 </dev/null &
  server_pid=$!
  for _ in $(seq 50); do
    port=$(sed -nE 's/^ACCEPT [0-9.]+:([0-9]+)$/\1/p' "$1/s_server.out")
    [[ -n $port ]] && break
    sleep 0.1
  done
  [[ -n $port ]] || die "openssl s_server did not start: $(cat "$1/s_server.out")"
  tls_port=$port
}

# dane_verdict PORT RRDATA: what openssl s_client says of the server at PORT
# with RRDATA as the only TLSA record of mx1.
dane_verdict() {
  openssl s_client -connect "$DNSLAB_RESOLVER_ADDR:$1" -servername "mx1.$Z" -brief \
    -dane_tlsa_domain "mx1.$Z" -dane_tlsa_rrdata "$2" </dev/null 2>&1 |
    grep -E '^(Verification|DANE TLSA|verify error)' | paste -sd' '
}

# expect_dane PORT RRDATA PATTERN: openssl's verdict on RRDATA matches PATTERN.
expect_dane() {
  local verdict
  verdict=$(dane_verdict "$1" "$2")
  if grep -qE "$3" <<<"$verdict"; then pass "openssl DANE, TLSA ${2:0:14}...: $verdict"; else
    fail "openssl DANE, TLSA ${2:0:14}...: got '$verdict', want /$3/"; fi
}

# check_tlsa_sh PORT DIR: every selector and matching type tlsa.sh computes
# for the leaf (DANE-EE) and the CA (DANE-TA) authenticates the server; the
# placeholder does not.
check_tlsa_sh() {
  local sm rr
  for sm in "0 0" "0 1" "0 2" "1 0" "1 1" "1 2"; do
    # shellcheck disable=SC2086 # selector and matching type, two words
    rr=$("$DNSLAB_HERE/tlsa.sh" x "$2/leaf.crt" 3 $sm | cut -d' ' -f3-)
    expect_dane "$1" "$rr" '^Verification: OK .*matched EE certificate at depth 0'
  done
  rr=$("$DNSLAB_HERE/tlsa.sh" x "$2/ca.crt" 2 0 1 | cut -d' ' -f3-)
  expect_dane "$1" "$rr" '^Verification: OK .*matched TA certificate at depth 1'
  expect_dane "$1" "3 1 1 $PLACEHOLDER" 'no matching DANE TLSA records'
}

# check_resign PORT DIR: records from tlsa.sh, published with resign.sh, are
# served signed in place of the placeholders and authenticate the server.
check_resign() {
  local want served rr
  { "$DNSLAB_HERE/tlsa.sh" _25._tcp.mx1 "$2/leaf.crt" 3 1 1
    "$DNSLAB_HERE/tlsa.sh" _25._tcp.mx1 "$2/ca.crt" 2 0 1; } >"$2/tlsa.records"
  records_changed=1
  "$DNSLAB_HERE/resign.sh" "$2/tlsa.records" 2>/dev/null || fail "resign.sh failed"
  want=$(awk '{ $1 = ""; sub(/^ +/, ""); print }' "$2/tlsa.records" | LC_ALL=C sort -k1,1 -k2,2n -k3 | paste -sd'|')
  expect "_25._tcp.mx1.$Z" TLSA NOERROR ad "$want"
  served=$(records_of "$(ask "_25._tcp.mx1.$Z" TLSA)")
  while IFS= read -r rr; do
    [[ -n $rr ]] && expect_dane "$1" "${rr#TLSA }" '^Verification: OK'
  done <<<"${served//|/$'\n'}"
  restore_records
  expect "_25._tcp.mx1.$Z" TLSA NOERROR ad "TLSA 3 1 1 $PLACEHOLDER"
}

restore_records() {
  "$DNSLAB_HERE/resign.sh" "$DNSLAB_HERE/zones/lab.test.records.in" 2>/dev/null ||
    fail "resign.sh could not restore the placeholders"
  records_changed=0
}

check_dane() {
  local tls=$work/tls
  mkdir -p "$tls"
  make_ca "$tls" "dnslab selftest CA" 2
  issue_cert "$tls" leaf "/CN=mx1.$Z" 2 "DNS:mx1.$Z"
  start_tls_server "$tls"
  check_tlsa_sh "$tls_port" "$tls"
  check_resign "$tls_port" "$tls"
}

# --- main -----------------------------------------------------------------------

work=$(mktemp -d)
server_pid=
tls_port=
records_changed=0
cleanup() {
  [[ -z $server_pid ]] || kill "$server_pid" 2>/dev/null || true
  [[ $records_changed == 0 ]] || restore_records
  rm -rf "$work"
}
trap cleanup EXIT

check_mx
check_hosts
check_dnssec
check_issue14_records
check_reverse
check_confinement
check_rotation
check_dane
echo "dnslab: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
