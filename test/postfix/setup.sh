#!/usr/bin/env bash
# setup.sh — start a throw-away Postfix on 127.0.0.1 for smtp_exporter
# integration tests.
#
# Usage (as root, Debian/Ubuntu):
#   test/postfix/setup.sh              # install if needed, (re)start
#   test/postfix/setup.sh --packages-only   # install what is missing, start nothing
#   . /tmp/smtp-exporter-postfix/env   # paths and ports for other scripts
#   ip netns exec smtp-exporter-test CMD    # reach it (see below)
#   test/postfix/teardown.sh           # stop it, remove the work dir
#
# Environment:
#   SMTP_EXPORTER_POSTFIX_DIR  work dir (default /tmp/smtp-exporter-postfix)
#   POSTSCREEN_GREET_WAIT      postscreen_greet_wait in seconds (default 2)
#   POSTSCREEN_GREET_TTL       postscreen_greet_ttl in seconds (default 1)
#   SMTPD_FORBID_BARE_NEWLINE  smtpd_forbid_bare_newline (default reject;
#                              "yes" only normalizes, see main.cf comment)
#   FORCE_NEW_CERTS=1          regenerate the CA and certificates
#   ALLOW_MTA_REPLACEMENT=1    let apt replace another MTA (e.g. exim4) with
#                              Postfix; without it setup.sh refuses
#   POSTFIX_EXTRA_ADDRS        more loopback addresses served on port 25, as
#                              "ADDR[=NAME] ..." (IPv4 127.x.y.z or ::1), e.g.
#                              "127.0.25.1=mx1.lab.test ::1=all.lab.test"
#                              (default: none). Each gets the service of
#                              127.0.0.1:25 (postscreen -> smtpd, STARTTLS),
#                              logged as postfix/ADDR; with a NAME, it greets
#                              and says EHLO as NAME and serves a certificate
#                              for NAME and ADDR from the same CA.
#
# What it runs: a separate Postfix instance (`postfix -c <workdir>/etc`, own
# queue and data directories); /etc/postfix is not touched. Services, all on
# 127.0.0.1 only:
#   25    postscreen (pregreet test enforced, loopback NOT exempt) -> smtpd,
#         STARTTLS offered (smtpd_tls_security_level=may)
#   587   smtpd, STARTTLS required (smtpd_tls_security_level=encrypt)
#   465   smtpd, implicit TLS (wrappermode), certificate valid for 5 days
#   2525  smtpd, no TLS at all
# Every smtpd forbids bare newlines (no exclusions) and unauthorised
# pipelining. Logs go to <workdir>/maillog via postlogd (no syslog needed).
# The instance runs in the network namespace smtp-exporter-test (test/lib.sh
# in_test_netns), whose loopback is its own: a system Postfix or anything
# else on the machine's port 25 is never stopped, reconfigured or reached,
# and the test instance is reachable only from inside the namespace.
# An extra address's postscreen keeps its own pass cache and hands over to
# its own smtpd, so what a client sees there never depends on the sessions
# other addresses had.
# Re-running the script is safe: it restarts the instance with a fresh
# configuration and keeps still-valid certificates.
set -euo pipefail

WORKDIR="${SMTP_EXPORTER_POSTFIX_DIR:-/tmp/smtp-exporter-postfix}"
GREET_WAIT="${POSTSCREEN_GREET_WAIT:-2}"
GREET_TTL="${POSTSCREEN_GREET_TTL:-1}"
FORBID_BARE_NEWLINE="${SMTPD_FORBID_BARE_NEWLINE:-reject}"
HOST=127.0.0.1
PORTS=(25 465 587 2525)
EXTRA_ADDRS=()
EXTRA_NAMES=()

CONF="$WORKDIR/etc"
SPOOL="$WORKDIR/spool"
DATA="$WORKDIR/data"
TLS="$WORKDIR/tls"
STATE="$WORKDIR/state"
MAILLOG="$WORKDIR/maillog"

log() { printf 'setup.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root"
[[ $WORKDIR == /* ]] || die "SMTP_EXPORTER_POSTFIX_DIR must be an absolute path"
[[ $GREET_WAIT =~ ^[1-9][0-9]*$ ]] || die "POSTSCREEN_GREET_WAIT must be whole seconds >= 1"
# postscreen refuses a TTL below 1 s ("min 1") and dies on the first connection.
[[ $GREET_TTL =~ ^[1-9][0-9]*$ ]] || die "POSTSCREEN_GREET_TTL must be whole seconds >= 1"

# parse_extra_addrs: POSTFIX_EXTRA_ADDRS into EXTRA_ADDRS and EXTRA_NAMES
# (an empty name: the instance's own), loopback addresses only, each once.
parse_extra_addrs() {
  local item addr name
  for item in ${POSTFIX_EXTRA_ADDRS:-}; do
    addr=${item%%=*}
    name=
    [[ $item == *=* ]] && name=${item#*=}
    [[ $addr == ::1 || $addr =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] ||
      die "POSTFIX_EXTRA_ADDRS: $addr is not a loopback address (127.x.y.z or ::1)"
    [[ $addr != "$HOST" && " ${EXTRA_ADDRS[*]} " != *" $addr "* ]] ||
      die "POSTFIX_EXTRA_ADDRS: $addr is given twice"
    [[ -z $name || $name =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] ||
      die "POSTFIX_EXTRA_ADDRS: $name is not a host name"
    EXTRA_ADDRS+=("$addr")
    EXTRA_NAMES+=("$name")
  done
}
parse_extra_addrs

# --- 1. packages -----------------------------------------------------------
install_packages() { apt_install_missing "$STATE" postfix openssl ca-certificates; }

# --- 2. certificates -------------------------------------------------------
# not_after_unix CERT: the certificate's notAfter as unix seconds.
not_after_unix() {
  date -u -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s
}

make_certs() {
  # Keep certificates across re-runs while they are comfortably valid: the
  # 90-day one for a week more, the short one for at least 4 more days
  # (so it always expires within 7 days, but is never expired).
  if [[ ${FORCE_NEW_CERTS:-0} != 1 && -s $TLS/ca.crt && -s $TLS/server.crt && -s $TLS/short.crt ]] &&
    openssl x509 -in "$TLS/ca.crt" -noout -checkend $((7 * 86400)) >/dev/null &&
    openssl x509 -in "$TLS/server.crt" -noout -checkend $((7 * 86400)) >/dev/null &&
    openssl x509 -in "$TLS/short.crt" -noout -checkend $((4 * 86400)) >/dev/null; then
    log "reusing certificates in $TLS"
    return 0
  fi
  log "generating a private CA and server certificates in $TLS"
  rm -rf "$TLS"
  mkdir -p "$TLS"
  chmod 0755 "$TLS"
  make_ca "$TLS" "smtp_exporter test CA" 90
  issue_cert "$TLS" server "/CN=localhost/O=smtp_exporter test (server)" 90 "DNS:localhost, IP:127.0.0.1" # port 25, 587
  issue_cert "$TLS" short "/CN=localhost/O=smtp_exporter test (short)" 5 "DNS:localhost, IP:127.0.0.1"   # port 465: expires within 7 days
  openssl verify -CAfile "$TLS/ca.crt" "$TLS/server.crt" "$TLS/short.crt" >/dev/null ||
    die "generated certificates do not verify"
}

# extra_certs: a certificate (same CA) for each named extra address, made
# afresh: the names may differ from the last run's.
extra_certs() {
  local i
  for i in "${!EXTRA_ADDRS[@]}"; do
    [[ -n ${EXTRA_NAMES[i]} ]] || continue
    issue_cert "$TLS" "extra$i" "/CN=${EXTRA_NAMES[i]}/O=smtp_exporter test (extra)" 90 \
      "DNS:${EXTRA_NAMES[i]}, IP:${EXTRA_ADDRS[i]}"
  done
}

# --- 3. Postfix configuration ----------------------------------------------
# has_ipv6_extra: ::1 is an extra address.
has_ipv6_extra() { [[ " ${EXTRA_ADDRS[*]} " == *" ::1 "* ]]; }

write_main_cf() {
  cat >"$CONF/main.cf" <<EOF
# Generated by test/postfix/setup.sh — overwritten on every run.
$(postfix_instance_main_cf "$SPOOL" "$DATA")
smtpd_banner = \$myhostname ESMTP smtp_exporter test Postfix

# Loopback only, and loopback is nothing special: with an empty mynetworks,
# permit_mynetworks matches no client and the bare-newline exclusion below
# is empty too.
# An extra address is bound by its master.cf line; inet_interfaces lists
# only addresses an interface carries (127.0.0.1, ::1), or Postfix refuses
# to start.
inet_interfaces = $HOST$(has_ipv6_extra && echo ', [::1]')
inet_protocols = $(has_ipv6_extra && echo all || echo ipv4)
mynetworks =

# There is no syslog daemon: postlogd writes this file (master.cf "postlog").
maillog_file = $MAILLOG
maillog_file_prefixes = /var, /dev/stdout, $WORKDIR

# TLS (per-service overrides in master.cf).
smtpd_tls_chain_files = $TLS/server.key, $TLS/server.crt
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = no
smtpd_tls_auth_only = yes
tls_random_source = dev:/dev/urandom

# Good manners are enforced for everybody. Since the January 2024 backport
# "yes" means "normalize" (a bare <LF> in a command is silently accepted);
# "reject" answers 550 and logs "bare <LF> received", which is what a test
# of the client's line endings needs.
smtpd_forbid_bare_newline = $FORBID_BARE_NEWLINE
smtpd_forbid_bare_newline_exclusions =
smtpd_forbid_unauth_pipelining = yes

# postscreen: only the pregreet test, enforced, re-run on (almost) every
# connection. No deep-protocol tests: they 4xx a client's first attempt.
postscreen_access_list =
postscreen_greet_action = enforce
postscreen_greet_wait = ${GREET_WAIT}s
postscreen_greet_ttl = ${GREET_TTL}s
postscreen_dnsbl_sites =
postscreen_pipelining_enable = no
postscreen_non_smtp_command_enable = no
postscreen_bare_newline_enable = no
postscreen_cache_map = btree:\$data_directory/postscreen_cache
EOF
}

write_master_cf() {
  cat >"$CONF/master.cf" <<EOF
# Generated by test/postfix/setup.sh — overwritten on every run.
# service         type  private unpriv  chroot  wakeup  maxproc command
$HOST:25       inet  n       -       n       -       1       postscreen
smtpd             pass  -       -       n       -       -       smtpd
  -o smtpd_tls_security_level=may
$HOST:587      inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
$HOST:465      inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_chain_files=$TLS/short.key,$TLS/short.crt
$HOST:2525     inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/plain
  -o smtpd_tls_security_level=none
  -o smtpd_tls_auth_only=no
$(extra_services)
$(postfix_internal_services)
EOF
}

# extra_services: for each extra address, port 25 as on $HOST, with a
# postscreen cache and an smtpd of its own (named after the address's NAME
# when it has one).
extra_services() {
  local i addr listen name
  for i in "${!EXTRA_ADDRS[@]}"; do
    addr=${EXTRA_ADDRS[i]} name=${EXTRA_NAMES[i]} listen=${EXTRA_ADDRS[i]}
    [[ $addr == *:* ]] && listen="[$addr]"
    printf '%s\n' "$listen:25 inet  n       -       n       -       1       postscreen" \
      "  -o syslog_name=postfix/$addr" \
      "  -o postscreen_cache_map=btree:\$data_directory/postscreen_cache_extra$i" \
      "  -o smtpd_service_name=smtpd-extra$i"
    [[ -z $name ]] || printf '  -o myhostname=%s\n' "$name"
    printf '%s\n' "smtpd-extra$i pass  -       -       n       -       -       smtpd" \
      "  -o syslog_name=postfix/$addr" "  -o smtpd_tls_security_level=may"
    [[ -z $name ]] || printf '%s\n' "  -o myhostname=$name" \
      "  -o smtpd_tls_chain_files=$TLS/extra$i.key,$TLS/extra$i.crt"
  done
}

# wait_extra_listening: every extra address listens on port 25.
wait_extra_listening() {
  local addr
  for addr in "${EXTRA_ADDRS[@]}"; do
    for _ in $(seq 50); do listening_25 "$addr" && break; sleep 0.1; done
    listening_25 "$addr" || die "Postfix is not listening on $addr:25 (see $MAILLOG)"
  done
}

# listening_25 ADDR: something listens on ADDR (IPv4, or ::1) port 25.
listening_25() {
  if [[ $1 == ::1 ]]; then
    [[ -n $(ss -Hltn 'sport = :25' 'src [::1]') ]]
  else
    tcp_listening "$1" 25
  fi
}

# write_module: the body of an exporter module that probes every port of
# this Postfix the way its services expect, for run.sh and test/e2e.
write_module() {
  cat >"$WORKDIR/module.yml" <<EOF
    timeout: 15s
    ehlo_hostname: probe.smtp-exporter.test
    tls_config: {ca_file: $TLS/ca.crt}
    ports:
      - {port: 25, tls: starttls}
      - {port: 587, tls: starttls, expect: {require_tls: true}}
      - {port: 465, tls: implicit}
      - {port: 2525, tls: none}
EOF
  chmod 0644 "$WORKDIR/module.yml"
}

write_env() {
  local f="$WORKDIR/env" tmp
  tmp=$(mktemp "$WORKDIR/.env.XXXXXX")
  {
    echo "# Generated by test/postfix/setup.sh; source it: . $f"
    printf 'export %s=%q\n' \
      SMTP_TEST_WORKDIR "$WORKDIR" \
      SMTP_TEST_POSTFIX_CONFIG_DIR "$CONF" \
      SMTP_TEST_POSTFIX_VERSION "$(postconf -c "$CONF" -h mail_version)" \
      SMTP_TEST_MAILLOG "$MAILLOG" \
      SMTP_TEST_HOST "$HOST" \
      SMTP_TEST_PORT_MX 25 \
      SMTP_TEST_PORT_SUBMISSION 587 \
      SMTP_TEST_PORT_SMTPS 465 \
      SMTP_TEST_PORT_PLAIN 2525 \
      SMTP_TEST_GREET_WAIT_SECONDS "$GREET_WAIT" \
      SMTP_TEST_GREET_TTL_SECONDS "$GREET_TTL" \
      SMTP_TEST_CA_FILE "$TLS/ca.crt" \
      SMTP_TEST_CERT_FILE "$TLS/server.crt" \
      SMTP_TEST_KEY_FILE "$TLS/server.key" \
      SMTP_TEST_CERT_NOT_AFTER_UNIX "$(not_after_unix "$TLS/server.crt")" \
      SMTP_TEST_SHORT_CERT_FILE "$TLS/short.crt" \
      SMTP_TEST_SHORT_KEY_FILE "$TLS/short.key" \
      SMTP_TEST_SHORT_CERT_NOT_AFTER_UNIX "$(not_after_unix "$TLS/short.crt")" \
      SMTP_TEST_MODULE_FILE "$WORKDIR/module.yml" \
      SMTP_TEST_EXTRA_ADDRS "${EXTRA_ADDRS[*]}"
  } >"$tmp"
  chmod 0644 "$tmp"
  mv "$tmp" "$f"
}

# --- main ------------------------------------------------------------------
install_packages
[[ ${1:-} != --packages-only ]] || exit 0
in_test_netns "$@"
command -v postfix >/dev/null || die "postfix is not installed"
mkdir -p "$WORKDIR" "$CONF" "$STATE"
chmod 0755 "$WORKDIR" "$CONF"

postfix_stop_instance "$CONF"

for p in "${PORTS[@]}"; do
  if tcp_listening "$HOST" "$p"; then
    die "something already listens on $HOST:$p (or the wildcard address); free it first"
  fi
done
for addr in "${EXTRA_ADDRS[@]}"; do
  ! listening_25 "$addr" || die "something already listens on $addr:25; free it first"
done

make_certs
extra_certs
write_main_cf
write_master_cf
mkdir -p "$SPOOL" "$DATA"
chown postfix "$DATA" # master.lock and the postscreen cache live here
chmod 0700 "$DATA"
postfix_start "$CONF" "$MAILLOG" "$HOST" "${PORTS[@]}"
wait_extra_listening
write_module
write_env
log "Postfix $(postconf -c "$CONF" -h mail_version) listening on $HOST ports ${PORTS[*]}${EXTRA_ADDRS[*]:+, on ${EXTRA_ADDRS[*]} port 25}"
log "source $WORKDIR/env for paths; logs in $MAILLOG"
