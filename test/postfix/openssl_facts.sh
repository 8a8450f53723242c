#!/usr/bin/env bash
# openssl_facts.sh — what openssl sees on an SMTP TLS endpoint, for comparing
# with smtp_exporter's probe_tls_version_info and
# probe_smtp_cert_expiry_timestamp_seconds.
#
# Usage:
#   test/postfix/openssl_facts.sh HOST PORT starttls|implicit
#
# Prints exactly two lines, e.g.
#   tls_version=TLS 1.3
#   not_after_unix=1795843903
# (version spelled like blackbox_exporter: "TLS 1.0" … "TLS 1.3"; the
# leaf certificate's notAfter in unix seconds).
#
# Environment: SERVERNAME (SNI, default none for IPs), EHLO_NAME (default
# openssl-facts.smtp-exporter.test), FACTS_TIMEOUT (seconds, default 15),
# FACTS_OPENSSL_ARGS (extra s_client options, e.g. "-tls1_2"),
# FACTS_DEBUG=1 (copy s_client's output to stderr).
#
# Only for ports that offer TLS: on a port without STARTTLS, s_client
# "tries anyway" and sends its ClientHello as an SMTP command, which Postfix
# logs as "bare <LF> received".
#
# The session is polite, so it leaves no "lost connection" or pipelining
# lines in the server's log: with -starttls smtp, s_client itself waits for
# the whole greeting, sends EHLO and STARTTLS; QUIT is sent after the
# handshake and s_client (-ign_eof) waits for the server to close. Under
# implicit TLS, QUIT is sent only after the final "220 " greeting line.
# Postfix logs: ehlo=1 starttls=1 quit=1 commands=3 (starttls) or
# quit=1 commands=1 (implicit).
set -euo pipefail

[[ $# -eq 3 ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
host=$1 port=$2 mode=$3
timeout_s=${FACTS_TIMEOUT:-15}

args=(s_client -connect "$host:$port" -ign_eof)
case $mode in
  starttls) args+=(-starttls smtp -name "${EHLO_NAME:-openssl-facts.smtp-exporter.test}") ;;
  implicit) ;;
  *) echo "openssl_facts: mode must be starttls or implicit" >&2; exit 2 ;;
esac
[[ -n ${SERVERNAME:-} ]] && args+=(-servername "$SERVERNAME")
# Extra s_client options, split on spaces, e.g. FACTS_OPENSSL_ARGS="-tls1_2".
if [[ -n ${FACTS_OPENSSL_ARGS:-} ]]; then
  read -r -a extra <<<"$FACTS_OPENSSL_ARGS"
  args+=("${extra[@]}")
fi

# -ign_eof: "QUIT" is sent as data, not taken as s_client's own Q command,
# and s_client waits for the server's close instead of hanging up first.
# s_client runs between two FIFOs so that QUIT can be timed.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkfifo "$tmp/in" "$tmp/out"
timeout "$timeout_s" openssl "${args[@]}" <"$tmp/in" >"$tmp/out" 2>&1 &
pid=$!
exec {to_sc}>"$tmp/in" {from_sc}<"$tmp/out" # same order as s_client opens them
out=""
sent=0
if [[ $mode == starttls ]]; then
  # s_client does not read stdin until STARTTLS and the handshake are done,
  # so this QUIT goes out alone, right after the handshake.
  printf 'QUIT\r\n' >&"$to_sc"
  sent=1
fi
while IFS= read -r line <&"$from_sc"; do
  out+="$line"$'\n'
  [[ ${FACTS_DEBUG:-0} == 1 ]] && printf '%s\n' "$line" >&2
  line=${line%$'\r'}
  if [[ $sent -eq 0 && $line == "220 "* ]]; then
    printf 'QUIT\r\n' >&"$to_sc"
    sent=1
  fi
done
exec {to_sc}>&- {from_sc}<&-
wait "$pid" || true # s_client's status is irrelevant once we have the facts

# "New, TLSv1.3, Cipher is ..." -> "TLS 1.3"; TLSv1 -> "TLS 1.0".
proto=$(sed -nE 's/^New, (TLSv1(\.[0-9])?|SSLv3), Cipher is .*/\1/p' <<<"$out" | head -n1)
case $proto in
  TLSv1) version="TLS 1.0" ;;
  TLSv1.*) version="TLS ${proto#TLSv}" ;;
  SSLv3) version="SSL 3.0" ;;
  *) echo "openssl_facts: no TLS session with $host:$port ($mode)" >&2
     printf '%s' "$out" | tail -n 20 >&2
     exit 1 ;;
esac

# Without -showcerts s_client prints only the leaf ("Server certificate").
end=$(sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' <<<"$out" |
  openssl x509 -noout -enddate) || { echo "openssl_facts: no certificate in the output" >&2; exit 1; }
not_after=$(date -u -d "${end#notAfter=}" +%s)

printf 'tls_version=%s\nnot_after_unix=%s\n' "$version" "$not_after"
