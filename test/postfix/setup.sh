#!/usr/bin/env bash
# setup.sh — start a throw-away Postfix on 127.0.0.1 for smtp_exporter
# integration tests.
#
# Usage (as root, Debian/Ubuntu):
#   test/postfix/setup.sh              # install if needed, (re)start
#   . /tmp/smtp-exporter-postfix/env   # paths and ports for other scripts
#   test/postfix/teardown.sh           # stop it, restore what was changed
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
# If the system's own Postfix is running, it is stopped and teardown.sh
# starts it again. Re-running the script is safe: it restarts the instance
# with a fresh configuration and keeps still-valid certificates.
set -euo pipefail

WORKDIR="${SMTP_EXPORTER_POSTFIX_DIR:-/tmp/smtp-exporter-postfix}"
GREET_WAIT="${POSTSCREEN_GREET_WAIT:-2}"
GREET_TTL="${POSTSCREEN_GREET_TTL:-1}"
FORBID_BARE_NEWLINE="${SMTPD_FORBID_BARE_NEWLINE:-reject}"
HOST=127.0.0.1
PORTS=(25 465 587 2525)

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

# --- 1. packages -----------------------------------------------------------
install_packages() { apt_install_missing "$STATE" postfix openssl ca-certificates; }

# --- helpers ---------------------------------------------------------------
system_postfix_running() {
  [[ -f /etc/postfix/main.cf ]] && postfix status >/dev/null 2>&1
}

# stop_system_postfix: the system instance may hold port 25. Stop it once
# and record how, so that teardown.sh can start it again.
stop_system_postfix() {
  system_postfix_running || return 0
  mkdir -p "$STATE"
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet postfix 2>/dev/null; then
    log "stopping the system Postfix (systemctl stop postfix)"
    systemctl stop postfix
    echo systemd >"$STATE/system_postfix_stopped"
  else
    log "stopping the system Postfix (postfix stop)"
    postfix stop >/dev/null 2>&1 || true
    echo postfix >"$STATE/system_postfix_stopped"
  fi
  for _ in $(seq 50); do system_postfix_running || return 0; sleep 0.1; done
  die "the system Postfix did not stop"
}

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

# --- 3. Postfix configuration ----------------------------------------------
write_main_cf() {
  cat >"$CONF/main.cf" <<EOF
# Generated by test/postfix/setup.sh — overwritten on every run.
$(postfix_instance_main_cf "$SPOOL" "$DATA")
smtpd_banner = \$myhostname ESMTP smtp_exporter test Postfix

# Loopback only, and loopback is nothing special: with an empty mynetworks,
# permit_mynetworks matches no client and the bare-newline exclusion below
# is empty too.
inet_interfaces = $HOST
inet_protocols = ipv4
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
$(postfix_internal_services)
EOF
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
      SMTP_TEST_MODULE_FILE "$WORKDIR/module.yml"
  } >"$tmp"
  chmod 0644 "$tmp"
  mv "$tmp" "$f"
}

# --- main ------------------------------------------------------------------
install_packages
command -v postfix >/dev/null || die "postfix is not installed"
mkdir -p "$WORKDIR" "$CONF" "$STATE"
chmod 0755 "$WORKDIR" "$CONF"

postfix_stop_instance "$CONF"
stop_system_postfix

for p in "${PORTS[@]}"; do
  if tcp_listening "$HOST" "$p"; then
    die "something already listens on $HOST:$p (or the wildcard address); free it first"
  fi
done

make_certs
write_main_cf
write_master_cf
mkdir -p "$SPOOL" "$DATA"
chown postfix "$DATA" # master.lock and the postscreen cache live here
chmod 0700 "$DATA"
postfix_start "$CONF" "$MAILLOG" "$HOST" "${PORTS[@]}"
write_module
write_env
log "Postfix $(postconf -c "$CONF" -h mail_version) listening on $HOST ports ${PORTS[*]}"
log "source $WORKDIR/env for paths; logs in $MAILLOG"
