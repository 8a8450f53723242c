# shellcheck shell=bash
# lib.sh — the parts of test/security/run.sh: the set-up steps, the probes,
# the answers and the ways to check them (expect.sh holds the checks). Source
# it from run.sh, which sets work, repo and PROBES; the lab's DNSLAB_* and
# the test Postfix's SMTP_TEST_* settings are read once they are loaded.
# shellcheck disable=SC2154 # work, repo, PROBES and the settings come from run.sh

# shellcheck source=test/checks.sh
. "$repo/test/checks.sh"

LISTEN=127.0.0.1:10596
POLICY_ID=sece2e1
POLICY_MAX_AGE=86400

# --- set-up -------------------------------------------------------------------------

# postfix_param NAME: a master.cf parameter of the test Postfix ("" if unset).
postfix_param() { postconf -c "$SMTP_TEST_POSTFIX_CONFIG_DIR" -Ph "$1" 2>/dev/null || true; }

# smtpd_service ADDR: the smtpd service postscreen on ADDR:25 hands over to
# (an address of POSTFIX_EXTRA_ADDRS has its own).
smtpd_service() { postfix_param "$1:25/inet/smtpd_service_name"; }

# chain_files ADDR: the key and certificate files that smtpd serves (an
# address of POSTFIX_EXTRA_ADDRS with a name).
chain_files() {
  local service
  service=$(smtpd_service "$1")
  [[ -n $service ]] && postfix_param "$service/pass/smtpd_tls_chain_files"
}

# served_cert ADDR: the certificate file Postfix serves on ADDR:25.
served_cert() {
  local files
  files=$(chain_files "$1")
  [[ -n $files ]] || die "Postfix serves no certificate of its own on $1:25"
  cut -d, -f2 <<<"$files"
}

# serve_ca_chain ADDR: the smtpd behind ADDR:25 serves the test CA after
# its certificate, as a server with an intermediate does: a DANE-TA record
# of the CA can then match a certificate of the served chain.
serve_ca_chain() {
  local files
  files=$(chain_files "$1")
  [[ -n $files ]] || die "Postfix serves no certificate of its own on $1:25"
  postconf -c "$SMTP_TEST_POSTFIX_CONFIG_DIR" -P "$(smtpd_service "$1")/pass/smtpd_tls_chain_files=$files,$SMTP_TEST_CA_FILE"
  postfix -c "$SMTP_TEST_POSTFIX_CONFIG_DIR" reload >/dev/null 2>&1 || die "postfix reload failed"
}

# make_certs: the policy host's certificate from the test CA (in
# $work/tls), and a key no server serves (in $work/next): a DANE-EE record
# of it stands for the next key of a rollover, or for a wrong record.
make_certs() {
  mkdir -p "$work/tls" "$work/next"
  cp "$SMTP_TEST_CA_FILE" "$work/tls/ca.crt"
  cp "$(dirname "$SMTP_TEST_CA_FILE")/ca.key" "$work/tls/ca.key"
  issue_cert "$work/tls" policy "/CN=mta-sts.sec.$DNSLAB_ZONE" 2 \
    "DNS:mta-sts.sec.$DNSLAB_ZONE, DNS:mta-sts.stsbad.$DNSLAB_ZONE"
  make_ca "$work/next" "a key not served" 2
}

# lab_records: the records run.sh's header lists, as resign.sh reads them.
lab_records() {
  local tlsa=$repo/test/dnslab/tlsa.sh
  "$tlsa" _25._tcp.mx1 "$(served_cert "$DNSLAB_MX1_ADDR")" 3 1 1
  "$tlsa" _25._tcp.mx1 "$work/next/ca.crt" 3 1 1
  "$tlsa" _25._tcp.mx2 "$SMTP_TEST_CA_FILE" 2 0 1
  "$tlsa" _25._tcp.daneno "$work/next/ca.crt" 3 1 1
  "$tlsa" _25._tcp.daneunusable "$(served_cert "$DNSLAB_MX1_ADDR")" 1 1 1
  printf '%s\n' "daneno A $DNSLAB_MX1_ADDR" "daneerr A $DNSLAB_MX1_ADDR" \
    "danenone A $DNSLAB_MX1_ADDR" "daneunusable A $DNSLAB_MX1_ADDR" \
    "_25._tcp.daneerr CNAME _25._tcp.mx.$DNSLAB_BOGUS_DOMAIN." \
    "sec MX 10 mx1" "sec MX 20 mx2" "stsbad MX 10 mx1" "stsbad MX 20 mx.$DNSLAB_INSECURE_DOMAIN." \
    "danebad MX 10 daneno" "danebad MX 20 daneerr" "danebad MX 30 mx.$DNSLAB_INSECURE_DOMAIN." \
    "danebad MX 40 danenone" "danebad MX 50 daneunusable" \
    "nosts MX 10 mx1"
  policy_records sec "mailto:tlsrpt@sec.$DNSLAB_ZONE"
  policy_records stsbad "ftp://reports.stsbad.$DNSLAB_ZONE/"
}

# policy_records NAME RUA: MTA-STS and TLS-RPT records of NAME.lab.test.
policy_records() {
  printf '%s\n' "_mta-sts.$1 TXT \"v=STSv1; id=$POLICY_ID\"" "mta-sts.$1 A $DNSLAB_MTA_STS_ADDR" \
    "_smtp._tls.$1 TXT \"v=TLSRPTv1; rua=$2\""
}

# start_policy_server: openssl s_server -WWW on the lab's MTA-STS address,
# port 443, serving the policy (as text/plain) from $work/www.
start_policy_server() {
  tcp_listening "$DNSLAB_MTA_STS_ADDR" 443 && die "something already listens on $DNSLAB_MTA_STS_ADDR:443"
  mkdir -p "$work/www/.well-known"
  printf '%s\r\n' "version: STSv1" "mode: enforce" "mx: $DNSLAB_MX1_HOST" "mx: *.$DNSLAB_ZONE" \
    "max_age: $POLICY_MAX_AGE" >"$work/www/.well-known/mta-sts.txt"
  (cd "$work/www" && exec openssl s_server -WWW -quiet -accept "$DNSLAB_MTA_STS_ADDR:443" \
    -cert "$work/tls/policy.crt" -key "$work/tls/policy.key" </dev/null >"$work/policy.log" 2>&1) &
  # shellcheck disable=SC2034 # run.sh's cleanup ends it
  policy_pid=$!
  for _ in $(seq 50); do tcp_listening "$DNSLAB_MTA_STS_ADDR" 443 && return 0; sleep 0.1; done
  die "openssl s_server does not listen on $DNSLAB_MTA_STS_ADDR:443: $(cat "$work/policy.log")"
}

# module NAME EXPECT: a module probing port 25 of mail domains through the
# lab's resolver with every check of issue 14 on, and EXPECT.
module() {
  printf '  %s:\n' "$1"
  printf '    %s\n' "timeout: 10s" "targets: mx" "ehlo_hostname: probe.smtp-exporter.test" \
    "tls_config: {ca_file: $SMTP_TEST_CA_FILE}" "dns: {server: \"$DNSLAB_RESOLVER\", dnssec: true}" \
    "dane: true" "mta_sts: true" "tlsrpt: true" "ports: [{port: 25, tls: starttls}]" "expect: {$2}"
}

start_exporter() {
  (cd "$repo" && go build -o "$work/smtp_exporter" .)
  { echo modules:
    module security ""
    module require "require_dane: true, require_mta_sts: true"
    module ocsp "require_ocsp_staple: true"; } >"$work/config.yml"
  "$work/smtp_exporter" --config.check --config.file="$work/config.yml" >/dev/null
  "$work/smtp_exporter" --config.file="$work/config.yml" --web.listen-address="$LISTEN" \
    --log.level=debug >"$work/exporter.log" 2>&1 &
  # shellcheck disable=SC2034 # run.sh's cleanup ends it
  exporter_pid=$!
  for _ in $(seq 50); do curl -fs "http://$LISTEN/-/ready" >/dev/null && return 0; sleep 0.1; done
  die "the exporter is not ready: $(tail -n 5 "$work/exporter.log")"
}

# probe_all: every probe of PROBES ("FILE MODULE DOMAIN") at once, each
# answer in $work/FILE.txt.
probe_all() {
  local p file mod domain pids=() start=$EPOCHREALTIME
  for p in "${PROBES[@]}"; do
    read -r file mod domain <<<"$p"
    curl -fsS -H 'X-Prometheus-Scrape-Timeout-Seconds: 10' \
      "http://$LISTEN/probe?target=$domain&module=$mod" -o "$work/$file.txt" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || die "a probe request failed"; done
  awk -v s="$start" -v e="$EPOCHREALTIME" -v n="${#PROBES[@]}" \
    'BEGIN { printf "security: %d probes at once took %.2f s\n", n, e - s }'
}

# endpoints_up: how many endpoints of all answers came up (one SMTP
# session each).
endpoints_up() {
  local key n=0
  for key in "${!SERIES[@]}"; do
    [[ $key == *"|probe_smtp_up{"* && ${SERIES[$key]} == 1 ]] && n=$((n + 1))
  done
  echo "$n"
}

# check_postfix_log SINCE: from line SINCE, Postfix logged one clean
# session per endpoint that came up, each with STARTTLS and QUIT, also
# where DANE or MTA-STS failed the endpoint afterwards.
check_postfix_log() {
  local n out clean
  n=$(endpoints_up)
  if out=$(LOGCHECK_WAIT_DISCONNECTS=$n LOGCHECK_FAIL_ON_REJECTED=1 "$repo/test/postfix/logcheck.sh" "$SMTP_TEST_MAILLOG" "$1"); then
    pass "Postfix logged no impolite session"
  else
    fail "Postfix logged an impolite session: $out"
  fi
  clean=$(tail -n "+$1" "$SMTP_TEST_MAILLOG" | grep ' disconnect from ' | grep -c ' ehlo=2 starttls=1 quit=1 commands=4$' || true)
  if ((clean == n)); then pass "Postfix logged $n sessions of ehlo=2 starttls=1 quit=1, one per endpoint up"; else
    fail "Postfix logged $clean sessions of ehlo=2 starttls=1 quit=1, $n endpoints came up: $out"; fi
}

# --- the answers --------------------------------------------------------------------

declare -A SERIES # "FILE|series" -> value, every answer's samples

# want FILE VALUE NAME [LABEL=VALUE...]: the sample's value is VALUE
# ("absent": no such series).
want() {
  local file=$1 value=$2 key got
  shift 2
  key="$(series "$@")"
  got=${SERIES["$file|$key"]-absent}
  if [[ $got == "$value" ]] || same_number "$got" "$value"; then pass "$file: $key = $value"; else fail "$file: $key = $got, want $value"; fi
}

# same_number A B: A and B are numbers of equal value (1.7e+09 = 1700000000).
same_number() { awk -v a="$1" -v b="$2" 'BEGIN { n = "^[-+0-9.eE]+$"; exit !(a ~ n && b ~ n && a + 0 == b + 0) }'; }

# matching FILE NAME [TEXT]: the FILE's series of family NAME whose labels
# contain TEXT, one a line.
matching() {
  local key
  for key in "${!SERIES[@]}"; do
    [[ $key == "$1|$2{"*"${3:-}"* || ($key == "$1|$2" && -z ${3:-}) ]] && echo "${key#*|}"
  done
  return 0
}

# want_none FILE NAME [HOST]: no series of family NAME (for HOST).
want_none() {
  local found
  found=$(matching "$1" "$2" "${3:+host=\"$3\"}")
  if [[ -z $found ]]; then pass "$1: no $2${3:+ for $3}"; else fail "$1: unexpected $(paste -sd' ' <<<"$found")"; fi
}

# want_count FILE NAME HOST N: N series of family NAME for HOST.
want_count() {
  local got
  got=$(matching "$1" "$2" "host=\"$3\"" | wc -l)
  if ((got == $4)); then pass "$1: $got $2 for $3"; else fail "$1: $got $2 series for $3, want $4"; fi
}

# want_failure FILE HOST REASON: the endpoint HOST:25 failed, with REASON
# (its only failure series).
want_failure() {
  local found
  found=$(matching "$1" probe_smtp_failure_info "host=\"$2\"")
  if [[ $found =~ ^probe_smtp_failure_info\{host=\"$2\",phase=\"[a-z_]+\",port=\"25\",reason=\"$3\"\}$ ]]; then
    pass "$1: $found"
  else
    fail "$1: failure of $2 is '${found:-none}', want reason $3"
  fi
}

# want_ok FILE HOST: the endpoint HOST:25 succeeded.
want_ok() { want "$1" 1 probe_smtp_success host="$2" port=25; }

# agree WHAT TOOL-SAYS DESIGNED: a tool's reading of the lab is the one the
# lab was built for (else the lab, not the exporter, is wrong).
agree() {
  if [[ $2 == "$3" ]]; then pass "lab: $1 is $2"; else fail "lab: $1 is '$2', built to be '$3'"; fi
}
