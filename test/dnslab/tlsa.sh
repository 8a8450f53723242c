#!/usr/bin/env bash
# tlsa.sh — print the TLSA record (RFC 6698) for a certificate, as a zone
# file line for resign.sh.
#
# Usage:
#   test/dnslab/tlsa.sh OWNER CERT.pem [USAGE SELECTOR MATCHING]
#     USAGE     2 DANE-TA (CERT is the trust anchor) or 3 DANE-EE [3]
#     SELECTOR  0 the whole certificate, 1 its SubjectPublicKeyInfo [1]
#     MATCHING  0 the data itself, 1 its SHA-256, 2 its SHA-512 [1]
#
# Example, a DANE-EE record for the test Postfix's certificate on mx1:
#   test/dnslab/tlsa.sh _25._tcp.mx1 "$SMTP_TEST_CERT_FILE" 3 1 1 |
#     test/dnslab/resign.sh -
set -euo pipefail

die() { printf 'tlsa.sh: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 2 || $# -eq 5 ]] || die "usage: tlsa.sh OWNER CERT.pem [USAGE SELECTOR MATCHING]"
owner=$1 cert=$2 usage=${3:-3} selector=${4:-1} matching=${5:-1}
[[ -r $cert ]] || die "cannot read $cert"
[[ $usage =~ ^[0-3]$ ]] || die "usage must be 0 to 3"

# selected: the DER bytes the selector names.
selected() {
  case $selector in
  0) openssl x509 -in "$cert" -outform DER ;;
  1) openssl x509 -in "$cert" -noout -pubkey | openssl pkey -pubin -outform DER ;;
  *) die "selector must be 0 or 1" ;;
  esac
}

# matched: stdin as the matching type presents it, in hex.
matched() {
  case $matching in
  0) cat ;;
  1) openssl dgst -sha256 -binary ;;
  2) openssl dgst -sha512 -binary ;;
  *) die "matching type must be 0, 1 or 2" ;;
  esac | od -An -v -tx1 | tr -d ' \n'
}

data=$(selected | matched)
[[ -n $data ]] || die "no data from $cert"
printf '%s TLSA %s %s %s %s\n' "$owner" "$usage" "$selector" "$matching" "$data"
