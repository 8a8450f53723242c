# shellcheck shell=bash
# expect.sh — what test/security/run.sh checks: the ground truth from
# independent tools (openssl s_client, drill, curl) and every answer held
# against it and against the lab's design. Source it after lib.sh, once the
# probes ran.
# shellcheck disable=SC2154 # work, repo and the settings come from run.sh

# --- drill, through the lab's validating resolver ------------------------------

ask() { drill -D -p "$DNSLAB_RESOLVER_PORT" "@$DNSLAB_RESOLVER_ADDR" "$@" 2>&1; }

# answer_of NAME TYPE: the answer section's records of TYPE, RDATA only.
answer_of() {
  ask "$1" "$2" | awk -v t="$2" '/^;; ANSWER SECTION:/ { on = 1; next } /^$/ { on = 0 }
    on && $4 == t { $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print }'
}

# ad_of NAME TYPE: 1 if the answer carried AD, else 0. (A here-string, not
# a pipe, into grep -q: under pipefail a writer killed by SIGPIPE would
# turn a match into a failure.)
ad_of() { if grep -qE '^;; flags:.* ad[ ;]' <<<"$(ask "$1" "$2")"; then echo 1; else echo 0; fi; }

# rcode_of NAME TYPE: the answer's rcode (NOERROR, SERVFAIL ...).
rcode_of() { ask "$1" "$2" | sed -nE 's/^;; ->>HEADER<<- .*rcode: ([A-Z]+),.*/\1/p'; }

# --- openssl s_client ---------------------------------------------------------------

# tls_facts HOST ADDR: openssl's session with ADDR:25, checking DANE with
# the TLSA records the lab serves for HOST and asking for a staple, in
# $work/openssl.HOST.
tls_facts() {
  local args=() rr
  while IFS= read -r rr; do
    [[ -n $rr ]] && args+=(-dane_tlsa_rrdata "$rr")
  done < <(answer_of "_25._tcp.$1" TLSA)
  openssl s_client -starttls smtp -connect "$2:25" -servername "$1" -status \
    -dane_tlsa_domain "$1" "${args[@]}" </dev/null >"$work/openssl.$1" 2>&1 || true
}

# openssl_facts: tls_facts of the three hosts with usable TLSA, at once
# (postscreen holds each session for its greet wait).
openssl_facts() {
  local pids=() p
  tls_facts "$DNSLAB_MX1_HOST" "$DNSLAB_MX1_ADDR" & pids+=($!)
  tls_facts "$DNSLAB_MX2_HOST" "$DNSLAB_MX2_ADDR" & pids+=($!)
  tls_facts "daneno.$DNSLAB_ZONE" "$DNSLAB_MX1_ADDR" & pids+=($!)
  for p in "${pids[@]}"; do wait "$p"; done
}

# dane_verdict HOST: 1 if openssl verified HOST's chain with its TLSA.
dane_verdict() { if grep -q '^Verification: OK' "$work/openssl.$1"; then echo 1; else echo 0; fi; }

# kex_group HOST: the key exchange group openssl negotiated, in Go's names.
kex_group() {
  sed -nE 's/^Server Temp Key: ([^,]+),.*/\1/p; s/^Server Temp Key: ECDH, ([^,]+),.*/\1/p' "$work/openssl.$1" |
    tail -n 1 | sed 's/^prime256v1$/P-256/; s/^secp384r1$/P-384/; s/^secp521r1$/P-521/'
}

# stapled HOST: 1 if the server stapled an OCSP response, 0 if openssl saw
# none ("" if openssl said neither).
stapled() {
  if grep -q '^OCSP response: no response sent' "$work/openssl.$1"; then echo 0
  elif grep -q '^OCSP Response Status: successful' "$work/openssl.$1"; then echo 1; fi
}

# --- curl and the policy host's certificate ------------------------------------------

# policy_field DOMAIN KEY: KEY's value in DOMAIN's policy as curl fetches
# it, verifying the host's certificate against the test CA.
policy_field() {
  local host=mta-sts.$1
  curl -fsS --cacert "$SMTP_TEST_CA_FILE" --resolve "$host:443:$(answer_of "$host" A | head -n 1)" \
    "https://$host/.well-known/mta-sts.txt" | tr -d '\r' | sed -n "s/^$2: *//p"
}

# policy_cert_expiry DOMAIN: the NotAfter, unix seconds, of the certificate
# the policy host serves.
policy_cert_expiry() {
  local end
  end=$(openssl s_client -connect "$DNSLAB_MTA_STS_ADDR:443" -servername "mta-sts.$1" </dev/null 2>/dev/null |
    openssl x509 -noout -enddate | cut -d= -f2)
  date -u -d "$end" +%s
}

# --- the checks -------------------------------------------------------------------------

# check_tls_facts FILE HOST FACTS: HOST's key exchange group and staple as
# openssl saw them on the same server (the session of FACTS).
check_tls_facts() {
  want "$1" 1 probe_smtp_tls_key_exchange_info group="$(kex_group "$3")" host="$2" port=25
  want "$1" "$(stapled "$3")" probe_smtp_ocsp_stapled host="$2" port=25
  want_none "$1" probe_smtp_ocsp_status "$2"
}

# check_policy FILE DOMAIN: the policy's facts as curl and openssl read them.
check_policy() {
  local mode max_age
  mode=$(policy_field "$2" mode) max_age=$(policy_field "$2" max_age)
  agree "the mode curl fetched from mta-sts.$2" "$mode" enforce
  agree "the max_age curl fetched from mta-sts.$2" "$max_age" "$POLICY_MAX_AGE"
  want "$1" 1 probe_smtp_mta_sts_info result=ok
  want "$1" 1 probe_smtp_mta_sts_mode_info mode="$mode"
  want "$1" "$max_age" probe_smtp_mta_sts_max_age_seconds
  want "$1" "$(policy_cert_expiry "$2")" probe_smtp_mta_sts_policy_cert_expiry_timestamp_seconds
}

# check_dane_usable FILE HOST RECORDS ROLLOVER: state usable, records and
# rollover as published, verified as openssl says.
check_dane_usable() {
  want "$1" 1 probe_smtp_dane_info host="$2" port=25 state=usable
  want_count "$1" probe_smtp_dane_info "$2" 1
  want "$1" "$3" probe_smtp_dane_records host="$2" port=25
  want "$1" "$4" probe_smtp_dane_rollover host="$2" port=25
  want "$1" "$(dane_verdict "$2")" probe_smtp_dane_verified host="$2" port=25
}

# sec: DANE-EE with a rollover on mx1, DANE-TA on mx2, an enforced
# MTA-STS policy both meet, TLS-RPT: everything passes.
check_sec() {
  local h z=sec.$DNSLAB_ZONE
  agree "openssl's DANE verdict on mx1 (3 1 1)" "$(dane_verdict "$DNSLAB_MX1_HOST")" 1
  agree "openssl's DANE verdict on mx2 (2 0 1 of the CA)" "$(dane_verdict "$DNSLAB_MX2_HOST")" 1
  agree "AD on $z MX" "$(ad_of "$z" MX)" 1
  want sec 1 probe_success
  want sec 1 probe_smtp_deliverable
  want sec "$(ad_of "$z" MX)" probe_smtp_mx_dnssec_secure
  for h in "$DNSLAB_MX1_HOST" "$DNSLAB_MX2_HOST"; do
    want_ok sec "$h"
    want sec "$(ad_of "$h" A)" probe_smtp_host_dnssec_secure host="$h"
    want sec 1 probe_smtp_mta_sts_mx_match host="$h"
    want sec 1 probe_smtp_mta_sts_valid host="$h" port=25
    check_tls_facts sec "$h" "$h"
  done
  check_dane_usable sec "$DNSLAB_MX1_HOST" 2 1
  want sec 1 probe_smtp_dane_match_info host="$DNSLAB_MX1_HOST" port=25 usage=3 selector=1 matching_type=1
  check_dane_usable sec "$DNSLAB_MX2_HOST" 1 0
  want sec 1 probe_smtp_dane_match_info host="$DNSLAB_MX2_HOST" port=25 usage=2 selector=0 matching_type=1
  check_policy sec "$z"
  want sec 1 probe_smtp_tlsrpt_info result=ok
}

# stsbad: the policy's "*.lab.test" covers one label only, so
# mx.insecure.lab.test is not listed: under enforce it fails; the TLS-RPT
# record's ftp: URI is invalid.
check_stsbad() {
  local i=mx.$DNSLAB_INSECURE_DOMAIN
  check_policy stsbad "stsbad.$DNSLAB_ZONE"
  want stsbad 1 probe_smtp_mta_sts_mx_match host="$DNSLAB_MX1_HOST"
  want stsbad 0 probe_smtp_mta_sts_mx_match host="$i"
  want stsbad 1 probe_smtp_mta_sts_valid host="$DNSLAB_MX1_HOST" port=25
  want stsbad 0 probe_smtp_mta_sts_valid host="$i" port=25
  want_ok stsbad "$DNSLAB_MX1_HOST"
  want_failure stsbad "$i" mta_sts_mismatch
  want stsbad 1 probe_smtp_tlsrpt_info result=invalid
  want stsbad 0 probe_success
  want stsbad 1 probe_smtp_deliverable
}

# check_dane_unusable FILE HOST STATE: a state without usable records;
# no verdict, and no failure under the default expect.
check_dane_unusable() {
  want "$1" 1 probe_smtp_dane_info host="$2" port=25 state="$3"
  want_count "$1" probe_smtp_dane_info "$2" 1
  want_none "$1" probe_smtp_dane_verified "$2"
  want_none "$1" probe_smtp_dane_match_info "$2"
  want_ok "$1" "$2"
  check_tls_facts "$1" "$2" "$DNSLAB_MX1_HOST" # the same Postfix as mx1
}

# danebad: a TLSA that matches nothing, one whose lookup fails (bogus),
# one in an unsigned zone, none (secure denial), one unusable; no MTA-STS
# or TLS-RPT records.
check_danebad() {
  local n=daneno.$DNSLAB_ZONE e=daneerr.$DNSLAB_ZONE i=mx.$DNSLAB_INSECURE_DOMAIN
  local o=danenone.$DNSLAB_ZONE u=daneunusable.$DNSLAB_ZONE
  agree "openssl's DANE verdict on $n" "$(dane_verdict "$n")" 0
  check_dane_usable danebad "$n" 1 0
  want_none danebad probe_smtp_dane_match_info "$n"
  want_failure danebad "$n" dane_mismatch
  check_tls_facts danebad "$n" "$n"
  agree "rcode of _25._tcp.$e TLSA" "$(rcode_of "_25._tcp.$e" TLSA)" SERVFAIL
  check_dane_unusable danebad "$e" error
  agree "AD on _25._tcp.$i TLSA" "$(ad_of "_25._tcp.$i" TLSA)" 0
  check_dane_unusable danebad "$i" insecure
  want danebad "$(ad_of "$i" A)" probe_smtp_host_dnssec_secure host="$i"
  agree "_25._tcp.$o TLSA, AD" "$(rcode_of "_25._tcp.$o" TLSA) $(answer_of "_25._tcp.$o" TLSA | wc -l) $(ad_of "_25._tcp.$o" TLSA)" "NXDOMAIN 0 1"
  check_dane_unusable danebad "$o" none
  agree "usage of _25._tcp.$u TLSA, AD" "$(answer_of "_25._tcp.$u" TLSA | cut -d' ' -f1) $(ad_of "_25._tcp.$u" TLSA)" "1 1"
  check_dane_unusable danebad "$u" unusable
  want danebad 0 probe_smtp_dane_records host="$u" port=25
  agree "_mta-sts.danebad TXT" "$(answer_of "_mta-sts.danebad.$DNSLAB_ZONE" TXT)" ""
  want danebad 1 probe_smtp_mta_sts_info result=absent
  want danebad 1 probe_smtp_tlsrpt_info result=absent
  want_none danebad probe_smtp_mta_sts_valid
  want danebad 1 probe_smtp_mx_dnssec_secure
  want danebad 0 probe_success
  want danebad 1 probe_smtp_deliverable
}

# insecure: the unsigned child zone; neither MX nor TLSA answers carry AD.
check_insecure() {
  local z=$DNSLAB_INSECURE_DOMAIN
  agree "AD on $z MX" "$(ad_of "$z" MX)" 0
  want insecure "$(ad_of "$z" MX)" probe_smtp_mx_dnssec_secure
  want insecure 1 probe_smtp_dane_info host="mx.$z" port=25 state=insecure
  want_ok insecure "mx.$z"
  want insecure 1 probe_success
}

# The expect keys: require_dane, require_mta_sts, require_ocsp_staple.
check_required() {
  want secreq 1 probe_success
  want_failure nosts "$DNSLAB_MX1_HOST" mta_sts_missing
  want nosts 1 probe_smtp_dane_verified host="$DNSLAB_MX1_HOST" port=25
  want nosts 1 probe_smtp_mta_sts_info result=absent
  want_failure insecreq "mx.$DNSLAB_INSECURE_DOMAIN" dane_missing
  want_failure ocsp "$DNSLAB_MX1_HOST" ocsp_missing
  want_failure ocsp "$DNSLAB_MX2_HOST" ocsp_missing
}
