#!/usr/bin/env bash
# teardown.sh — stop the test Postfix started by setup.sh and undo its changes.
#
# Usage (as root):
#   test/postfix/teardown.sh
#
# Environment:
#   SMTP_EXPORTER_POSTFIX_DIR  work dir (default /tmp/smtp-exporter-postfix)
#   KEEP_WORKDIR=1             keep the work dir (maillog, certificates)
#   PURGE_PACKAGES=1           also purge the packages setup.sh installed
#                              and reinstall any MTA they replaced
#
# It stops the test instance, removes the work dir (with it the record of
# installed packages: purge in the same run, or use KEEP_WORKDIR=1) and the
# network namespace smtp-exporter-test when nothing else runs in it.
# /etc/postfix and the system's own Postfix are never touched.
# Safe to run more than once.
set -euo pipefail

WORKDIR="${SMTP_EXPORTER_POSTFIX_DIR:-/tmp/smtp-exporter-postfix}"
CONF="$WORKDIR/etc"
STATE="$WORKDIR/state"

log() { printf 'teardown.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../lib.sh"

[[ $(id -u) -eq 0 ]] || { log "must run as root"; exit 1; }
[[ $WORKDIR == /* && $WORKDIR != / ]] || { log "bad SMTP_EXPORTER_POSTFIX_DIR"; exit 1; }

# 1. The test instance.
if [[ -f $CONF/main.cf ]] && command -v postfix >/dev/null; then
  if postfix -c "$CONF" status >/dev/null 2>&1; then
    log "stopping the test Postfix ($CONF)"
    postfix -c "$CONF" stop >/dev/null 2>&1 || true
  fi
  # If the master is still there (e.g. a half-broken config), end it by the
  # PID it recorded, and only that one.
  pidfile="$WORKDIR/spool/pid/master.pid"
  for _ in $(seq 50); do
    [[ -s $pidfile ]] || break
    pid=$(tr -d ' \n' <"$pidfile")
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -s $pidfile ]]; then
    pid=$(tr -d ' \n' <"$pidfile")
    if kill -0 "$pid" 2>/dev/null &&
      [[ $(cat "/proc/$pid/comm" 2>/dev/null) == master ]]; then
      log "master $pid did not stop; sending TERM"
      kill "$pid"
    fi
  fi
fi

# 2. Packages setup.sh installed (only on request: other things may use them).
if [[ ${PURGE_PACKAGES:-0} == 1 && -s $STATE/installed_packages ]]; then
  mapfile -t pkgs < <(sort -u "$STATE/installed_packages")
  log "purging: ${pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 purge -y -qq "${pkgs[@]}" >/dev/null
  rm -f "$STATE/installed_packages"
  if [[ -s $STATE/removed_packages ]]; then
    mapfile -t pkgs < <(sort -u "$STATE/removed_packages")
    log "reinstalling what Postfix replaced: ${pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${pkgs[@]}" >/dev/null
    rm -f "$STATE/removed_packages"
  fi
fi

# 3. The work dir.
if [[ ${KEEP_WORKDIR:-0} == 1 ]]; then
  log "keeping $WORKDIR"
elif [[ -d $WORKDIR ]]; then
  rm -rf "$WORKDIR"
  log "removed $WORKDIR"
fi

# 4. The network namespace, unless another script still runs in it.
test_netns_release
