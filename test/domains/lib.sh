# shellcheck shell=bash
# lib.sh — the checks of test/domains/run.sh. Source it after the probes
# ran; it reads $work/FILE.txt (the answers of PROBES), the lab's DNSLAB_*
# and the test Postfix's SMTP_TEST_* settings, Postfix's log from line
# $since, and counts with pass and fail.
# shellcheck disable=SC2154 # work, repo, since and PROBES come from run.sh

declare -A SERIES  # "FILE|series" -> value, every answer's samples
declare -A CHECKED # "FILE|series" -> 1 once a check looked at it

# Families whose values are measurements, checked for sanity only.
MEASURED='^(probe_duration_seconds|probe_dns_lookup_time_seconds|probe_smtp_duration_seconds|probe_smtp_handshake_seconds|probe_ip_addr_hash|probe_smtp_cert_expiry_timestamp_seconds|probe_smtp_cert_days_until_expiry|probe_ssl_earliest_cert_expiry|probe_ssl_last_chain_expiry_timestamp_seconds|probe_ssl_last_chain_info|probe_smtp_extension_info|probe_smtp_size_limit_bytes|probe_tls_cipher_info|probe_tls_version_info)([{]|$)'

# check FILE WANT NAME [LABEL=VALUE...]: the sample's value is WANT
# ("absent": no such series).
check() {
  local file=$1 want=$2 key got
  shift 2
  key="$file|$(series "$@")"
  got=${SERIES[$key]-absent}
  CHECKED[$key]=1
  if [[ $got == "$want" ]]; then pass; else fail "$file: $(series "$@") = $got, want $want"; fi
}

# check_none FILE NAME: the answer has no series of family NAME.
check_none() {
  local key
  for key in "${!SERIES[@]}"; do
    [[ $key == "$1|$2{"* || $key == "$1|$2" ]] || continue
    fail "$1: unexpected ${key#*|} = ${SERIES[$key]}"
    return
  done
  pass
}

# --- ground truth: drill through the lab's resolver ----------------------------

ask() { drill -D -p "$DNSLAB_RESOLVER_PORT" "@$DNSLAB_RESOLVER_ADDR" "$@" 2>&1; }

# answer_of NAME TYPE [DRILL-OPTION...]: the answer section's records of
# TYPE, RDATA only.
answer_of() {
  ask "${@:3}" "$1" "$2" | awk -v t="$2" '/^;; ANSWER SECTION:/ { on = 1; next } /^$/ { on = 0 } on && $4 == t { $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print }'
}

# ad_of NAME TYPE: 1 if the resolver's answer carried AD, else 0.
# (Here-strings, not pipes, into grep -q: under pipefail a writer killed by
# SIGPIPE after grep's early exit would turn a match into a failure.)
ad_of() { if grep -qE '^;; flags:.* ad[ ;]' <<<"$(ask "$1" "$2")"; then echo 1; else echo 0; fi; }

# mx_of DOMAIN: "PREFERENCE NAME" lines in RFC 5321 order, names without
# the trailing dot.
mx_of() { answer_of "$1" MX | sed 's/\.$//' | LC_ALL=C sort -k1,1n -k2,2; }

# addrs_of HOST: the host's A and AAAA addresses.
addrs_of() { answer_of "$1" A; answer_of "$1" AAAA; }

# fcrdns_of ADDR: 1 if a PTR name of ADDR has ADDR among its addresses.
fcrdns_of() {
  local name
  for name in $(answer_of "$1" PTR -x); do
    grep -qxF "$1" <<<"$(addrs_of "${name%.}")" && { echo 1; return; }
  done
  echo 0
}

# probed_mx DOMAIN: the MX hosts a sender tries, in order: drill's MX
# records but null MX, IP literals and localhost.
probed_mx() { mx_of "$1" | awk '$2 != "" && $2 != "localhost" && $2 !~ /^[0-9.]+$/ && $2 !~ /:/'; }

# --- checks against drill -----------------------------------------------------------

# check_mx_against_drill FILE DOMAIN: the records counted, every host
# probed with its preference, and the AD bit of the MX answer.
check_mx_against_drill() {
  local file=$1 domain=$2 pref name n=0
  check "$file" "$(answer_of "$domain" MX | wc -l)" probe_smtp_mx_records
  while read -r pref name; do
    check "$file" 1 probe_smtp_mx_info host="$name" preference="$pref"
    n=$((n + 1))
  done < <(probed_mx "$domain")
  count_is "$file" probe_smtp_mx_info "$n"
  check "$file" "$(ad_of "$domain" MX)" probe_smtp_mx_dnssec_secure
}

# count_is FILE NAME N: the answer has N series of family NAME.
count_is() {
  local got
  got=$(printf '%s\n' "${!SERIES[@]}" | grep -c "^$1|$2{" || true)
  if ((got == $3)); then pass; else fail "$1: $got $2 series, want $3"; fi
}

# check_host_against_drill FILE HOST: the addresses counted per family and
# the AD bit of both answers. KNOWN_BUGS lists "FILE:HOST" pairs whose
# dnssec_secure is reported, not failed (none today).
check_host_against_drill() {
  local file=$1 host=$2 secure key
  if [[ -n $(answer_of "$host" A)$(answer_of "$host" AAAA) ]]; then
    check "$file" "$(answer_of "$host" A | wc -l)" probe_smtp_host_addresses family=4 host="$host"
    check "$file" "$(answer_of "$host" AAAA | wc -l)" probe_smtp_host_addresses family=6 host="$host"
  fi
  secure=$(($(ad_of "$host" A) & $(ad_of "$host" AAAA)))
  key="$file|$(series probe_smtp_host_dnssec_secure host="$host")"
  if [[ " ${KNOWN_BUGS[*]} " == *" $file:$host "* && ${SERIES[$key]-} != "$secure" ]]; then
    CHECKED[$key]=1
    echo "KNOWN BUG: $file: ${key#*|} = ${SERIES[$key]-absent}, drill says AD $secure (an authenticated NXDOMAIN reads as insecure)"
    return
  fi
  check "$file" "$secure" probe_smtp_host_dnssec_secure host="$host"
}

# --- endpoints -------------------------------------------------------------------------

# Greeting names Postfix was given per address (setup.sh POSTFIX_EXTRA_ADDRS).
declare -A GREETS

# endpoint_ok FILE HOST ADDR [IP-LABEL]: a clean STARTTLS session with the
# Postfix on ADDR; reverse DNS and the certificate judged from drill and
# the name that address greets as.
endpoint_ok() {
  local file=$1 host=$2 addr=$3 l=(host="$2" port=25) greet ptrs hostmatch=0 banner=0
  [[ -n ${4:-} ]] && l+=(ip="$4")
  greet=${GREETS[$addr]}
  ptrs=$(answer_of "$addr" PTR -x | sed 's/\.$//')
  [[ $greet == "$host" ]] && hostmatch=1
  [[ $greet == "$host" ]] || grep -qxF "$greet" <<<"$ptrs" && banner=1
  check "$file" 1 probe_smtp_up "${l[@]}"
  check "$file" 1 probe_smtp_success "${l[@]}"
  check "$file" 250 probe_smtp_status_code "${l[@]}"
  check "$file" 1 probe_smtp_starttls_advertised "${l[@]}"
  check "$file" 1 probe_smtp_tls "${l[@]}"
  check "$file" 1 probe_smtp_cert_verified "${l[@]}"
  check "$file" "$hostmatch" probe_smtp_cert_hostname_match "${l[@]}"
  check "$file" "$([[ $addr == *:* ]] && echo 6 || echo 4)" probe_ip_protocol "${l[@]}"
  check "$file" "$(fcrdns_of "$addr")" probe_smtp_fcrdns "${l[@]}"
  check "$file" "$banner" probe_smtp_banner_hostname_match "${l[@]}"
  check "$file" 0 probe_smtp_ocsp_stapled "${l[@]}" # Postfix staples nothing
  check "$file" 1 probe_smtp_tls_key_exchange_info group="$KEX_GROUP" "${l[@]}"
  check "$file" absent probe_smtp_failure_info "${l[@]}"
}

# KEX_GROUP is the group Go and this machine's OpenSSL agree on: the
# post-quantum hybrid where OpenSSL has ML-KEM (3.5 and later), else X25519.
if openssl list -kem-algorithms 2>/dev/null | grep -qi mlkem; then
  KEX_GROUP=X25519MLKEM768
else
  KEX_GROUP=X25519
fi

# endpoint_refused FILE HOST ADDR: nothing listens at ADDR:25.
endpoint_refused() {
  local file=$1 l=(host="$2" port=25)
  check "$file" 0 probe_smtp_up "${l[@]}"
  check "$file" 0 probe_smtp_success "${l[@]}"
  check "$file" 0 probe_smtp_status_code "${l[@]}"
  check "$file" 0 probe_smtp_tls "${l[@]}"
  check "$file" 4 probe_ip_protocol "${l[@]}"
  check "$file" 1 probe_smtp_failure_info "${l[@]}" phase=connect reason=refused
  check "$file" "$(fcrdns_of "$3")" probe_smtp_fcrdns "${l[@]}"
  check "$file" absent probe_smtp_banner_hostname_match "${l[@]}"
}

# endpoint_unresolved FILE HOST: the MX host has no address (no_address).
endpoint_unresolved() {
  local file=$1 l=(host="$2" port=25)
  check "$file" 0 probe_smtp_up "${l[@]}"
  check "$file" 0 probe_smtp_success "${l[@]}"
  check "$file" 0 probe_smtp_status_code "${l[@]}"
  check "$file" 0 probe_smtp_tls "${l[@]}"
  check "$file" 1 probe_smtp_failure_info "${l[@]}" phase=resolve reason=dns
  check "$file" 1 probe_smtp_mx_problem_info host="$2" problem=no_address
  check "$file" absent probe_ip_protocol "${l[@]}"
}

# domain_ok FILE SUCCESS DELIVERABLE LOOKUP: the probe's verdicts.
domain_verdict() {
  check "$1" "$2" probe_success
  check "$1" "$3" probe_smtp_deliverable
  check "$1" 1 probe_smtp_mx_lookup_info result="$4"
  check "$1" 0 probe_smtp_endpoints_skipped
}

# target_failed FILE REASON LOOKUP: no endpoint, and why.
target_failed() {
  domain_verdict "$1" 0 0 "$3"
  check "$1" 1 probe_smtp_target_failure_info phase=mx reason="$2"
  check_none "$1" probe_smtp_up
}

# --- the cases ------------------------------------------------------------------------

# check_mx_domains: the domains whose MX hosts are probed.
check_mx_domains() {
  local f host
  for f in mx3 mxtie; do
    domain_verdict "$f" 0 1 mx # the backup MX is down: an admin must hear it
    endpoint_ok "$f" "$DNSLAB_MX1_HOST" "$DNSLAB_MX1_ADDR"
    endpoint_ok "$f" "$DNSLAB_MX2_HOST" "$DNSLAB_MX2_ADDR"
    endpoint_refused "$f" "$DNSLAB_DOWN_HOST" "$DNSLAB_DOWN_ADDR"
  done
  check_mx_against_drill mx3 "$DNSLAB_MX_DOMAIN"
  check_mx_against_drill mxtie "$DNSLAB_MXTIE_DOMAIN"
  # max_hosts: 1 keeps the first host in (preference, name) order.
  for f in mx3first:$DNSLAB_MX_DOMAIN mxtiefirst:$DNSLAB_MXTIE_DOMAIN; do
    domain_verdict "${f%%:*}" 1 1 mx
    read -r pref host < <(probed_mx "${f#*:}" | head -n 1)
    check "${f%%:*}" 1 probe_smtp_mx_info host="$host" preference="$pref"
    count_is "${f%%:*}" probe_smtp_mx_info 1
    check "${f%%:*}" "$(answer_of "${f#*:}" MX | wc -l)" probe_smtp_mx_records
    check "${f%%:*}" 1 probe_smtp_mx_dnssec_secure
    endpoint_ok "${f%%:*}" "$host" "$DNSLAB_MX1_ADDR"
    while read -r _ host; do
      check "${f%%:*}" 1 probe_smtp_mx_problem_info host="$host" problem=over_max_hosts
    done < <(probed_mx "${f#*:}" | tail -n +2)
  done
  domain_verdict nullmixed 1 1 mx
  check nullmixed 1 probe_smtp_mx_problem_info host=. problem=null_mx_mixed
  endpoint_ok nullmixed "$DNSLAB_MX1_HOST" "$DNSLAB_MX1_ADDR"
  check_mx_against_drill nullmixed "$DNSLAB_NULLMIXED_DOMAIN"
  domain_verdict mxcname 1 1 mx # a CNAME is reported, and followed as senders do
  check mxcname 1 probe_smtp_mx_problem_info host="mxalias.$DNSLAB_ZONE" problem=cname
  endpoint_ok mxcname "mxalias.$DNSLAB_ZONE" "$DNSLAB_MX1_ADDR"
  check_mx_against_drill mxcname "$DNSLAB_MXCNAME_DOMAIN"
  domain_verdict mxbadptr 1 1 mx
  endpoint_ok mxbadptr "$DNSLAB_BADPTR_HOST" "$DNSLAB_BADPTR_ADDR"
  check_mx_against_drill mxbadptr "$DNSLAB_MXBADPTR_DOMAIN"
  domain_verdict insecure 1 1 mx
  endpoint_ok insecure "mx.$DNSLAB_INSECURE_DOMAIN" "$DNSLAB_MX1_ADDR"
  check_mx_against_drill insecure "$DNSLAB_INSECURE_DOMAIN"
}

# check_unprobed_domains: domains whose MX names nobody can deliver to.
check_unprobed_domains() {
  local f
  for f in mxip:$DNSLAB_MXIP_DOMAIN:$DNSLAB_MX1_ADDR:ip_literal mxlocal:$DNSLAB_MXLOCAL_DOMAIN:localhost:localhost; do
    IFS=: read -r file domain host problem <<<"$f"
    domain_verdict "$file" 0 0 mx
    check "$file" 1 probe_smtp_mx_problem_info host="$host" problem="$problem"
    check_none "$file" probe_smtp_up
    check_none "$file" probe_smtp_target_failure_info
    check_mx_against_drill "$file" "$domain"
  done
  for f in mxnoaddr:$DNSLAB_MXNOADDR_DOMAIN:noaddr mxnxhost:$DNSLAB_MXNXHOST_DOMAIN:nxhost; do
    IFS=: read -r file domain host <<<"$f"
    domain_verdict "$file" 0 0 mx
    endpoint_unresolved "$file" "$host.$DNSLAB_ZONE"
    check_mx_against_drill "$file" "$domain"
  done
  target_failed nullmx null_mx null_mx
  check nullmx 1 probe_smtp_mx_records
  check nullmx "$(ad_of "$DNSLAB_NULLMX_DOMAIN" MX)" probe_smtp_mx_dnssec_secure
  for f in nx:nxdomain:$DNSLAB_NX_DOMAIN bogus:dns:$DNSLAB_BOGUS_DOMAIN expired:dns:$DNSLAB_EXPIRED_DOMAIN; do
    IFS=: read -r file reason domain <<<"$f"
    target_failed "$file" "$reason" mx
    check "$file" 0 probe_smtp_mx_records
    check "$file" "$(ad_of "$domain" MX)" probe_smtp_mx_dnssec_secure
  done
}

# check_implicit_domains: no MX, the domain's own addresses (the first
# dialled, IPv6 first; every one under addresses: all).
check_implicit_domains() {
  local addr f
  for f in "implicit:$DNSLAB_IMPLICIT_DOMAIN" "all:$DNSLAB_ALL_HOST"; do
    domain_verdict "${f%%:*}" 1 1 implicit
    check "${f%%:*}" 0 probe_smtp_mx_records
    check "${f%%:*}" "$(ad_of "${f#*:}" MX)" probe_smtp_mx_dnssec_secure
  done
  endpoint_ok implicit "$DNSLAB_IMPLICIT_DOMAIN" "$DNSLAB_ADDR6"
  for addr in $(addrs_of "$DNSLAB_ALL_HOST"); do
    endpoint_ok all "$DNSLAB_ALL_HOST" "$addr" "$addr"
  done
  count_is all probe_smtp_up "$(addrs_of "$DNSLAB_ALL_HOST" | wc -l)"
  # addresses: all on a mail domain: every MX host's every address.
  domain_verdict mx3all 0 1 mx
  check_mx_against_drill mx3all "$DNSLAB_MX_DOMAIN"
  endpoint_ok mx3all "$DNSLAB_MX1_HOST" "$DNSLAB_MX1_ADDR" "$DNSLAB_MX1_ADDR"
  endpoint_ok mx3all "$DNSLAB_MX2_HOST" "$DNSLAB_MX2_ADDR" "$DNSLAB_MX2_ADDR"
  check mx3all 1 probe_smtp_failure_info host="$DNSLAB_DOWN_HOST" ip="$DNSLAB_DOWN_ADDR" phase=connect port=25 reason=refused
  for name in up success status_code tls ip_protocol fcrdns; do
    CHECKED["mx3all|$(series "probe_smtp_$name" host="$DNSLAB_DOWN_HOST" ip="$DNSLAB_DOWN_ADDR" port=25)"]=1
    CHECKED["mx3all|$(series "probe_$name" host="$DNSLAB_DOWN_HOST" ip="$DNSLAB_DOWN_ADDR" port=25)"]=1
  done
}

# check_hosts_against_drill: every host an answer reports, per family and
# AD bit.
check_hosts_against_drill() {
  local key file host
  for key in "${!SERIES[@]}"; do
    [[ $key =~ ^([a-z0-9]+)\|probe_smtp_host_dnssec_secure\{host=\"([^\"]+)\"\}$ ]] || continue
    file=${BASH_REMATCH[1]} host=${BASH_REMATCH[2]}
    check_host_against_drill "$file" "$host"
  done
}

# check_measurements: measured series are sane; nothing else went unchecked.
check_measurements() {
  local key s v
  for key in "${!SERIES[@]}"; do
    s=${key#*|} v=${SERIES[$key]}
    if [[ $s =~ $MEASURED ]]; then
      case $s in
      probe_smtp_cert_days_until_expiry*) awk -v v="$v" 'BEGIN { exit !(v > 80 && v <= 90) }' ;;
      *"info{"*) [[ $v == 1 ]] ;;
      *) awk -v v="$v" 'BEGIN { exit !(v >= 0) }' ;;
      esac || { fail "${key%%|*}: $s = $v is not a sane measurement"; continue; }
      pass
    elif [[ -z ${CHECKED[$key]-} ]]; then
      fail "${key%%|*}: $s = $v was not checked"
    fi
  done
}

# check_answers: every answer, series by series.
check_answers() {
  load_answers
  for p in "${PROBES[@]}"; do read -r f _ <<<"$p"; [[ -s $work/$f.txt ]] || fail "$f: empty answer"; done
  GREETS=([$DNSLAB_MX1_ADDR]=$DNSLAB_MX1_HOST [$DNSLAB_MX2_ADDR]=$DNSLAB_MX2_HOST
    [$DNSLAB_BADPTR_ADDR]=$DNSLAB_BADPTR_HOST [$DNSLAB_ALL1_ADDR]=$DNSLAB_ALL_HOST
    [$DNSLAB_ALL2_ADDR]=$DNSLAB_ALL_HOST [::1]=$DNSLAB_ALL_HOST)
  KNOWN_BUGS=()
  check_mx_domains
  check_unprobed_domains
  check_implicit_domains
  check_hosts_against_drill
  check_measurements
}

# check_postfix_log: one clean STARTTLS session per endpoint that came up,
# each on the address of its host, none on 127.0.0.1.
check_postfix_log() {
  local key sessions=0 out
  for key in "${!SERIES[@]}"; do
    [[ $key == *"|probe_smtp_up{"* && ${SERIES[$key]} == 1 ]] && sessions=$((sessions + 1))
  done
  if out=$(LOGCHECK_WAIT_DISCONNECTS=$sessions LOGCHECK_FAIL_ON_REJECTED=1 \
    "$repo/test/postfix/logcheck.sh" "$SMTP_TEST_MAILLOG" "$since"); then
    pass
  else
    fail "Postfix logged an impolite session"
  fi
  echo "$out"
  local clean
  clean=$(tail -n +"$since" "$SMTP_TEST_MAILLOG" | grep -c ' disconnect from .* ehlo=2 starttls=1 quit=1 commands=4$' || true)
  if ((clean == sessions)); then pass; else fail "$clean sessions of ehlo=2 starttls=1 quit=1 commands=4, want $sessions"; fi
  if grep -qE 'postfix/(smtpd|postscreen)\[' <<<"$(tail -n +"$since" "$SMTP_TEST_MAILLOG")"; then
    fail "a session reached 127.0.0.1's services, not an MX host's"
  else
    pass
  fi
}
