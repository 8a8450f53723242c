#!/usr/bin/env bash
# run.sh — checks deploy/systemd/smtp_exporter.service as installed:
#   - `systemd-analyze verify` accepts it without a word (an unknown or
#     misspelt directive is only a warning there, so any output fails);
#   - its ExecStart, with the built binary, the shipped config
#     (config/default.yml) and ARGS from deploy/systemd/smtp_exporter.default
#     (listen address moved to loopback), serves /-/healthy;
#   - its ExecReload reloads the configuration and the process stays up.
# Installs Debian's systemd if systemd-analyze is missing (root). The
# exporter listens on 127.0.0.1:SYSTEMD_TEST_PORT (default 10596).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
log() { printf 'systemd/run.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=test/lib.sh
. "$repo/test/lib.sh"

port=${SYSTEMD_TEST_PORT:-10596}
work=$(mktemp -d)
pid=
passes=0
failures=0
pass() { echo "ok: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
cleanup() {
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

command -v systemd-analyze >/dev/null || apt_install_missing "" systemd
command -v curl >/dev/null || apt_install_missing "" curl
tcp_listening 127.0.0.1 "$port" && die "127.0.0.1:$port is taken; set SYSTEMD_TEST_PORT"

echo "--- building the exporter"
make -C "$repo" --no-print-directory build BIN="$work/smtp_exporter" >/dev/null

# The unit and its environment file as installed, with this machine's paths.
sed "s|^ARGS=.*|ARGS=\"--web.listen-address=127.0.0.1:$port --log.level=debug\"|" \
  "$repo/deploy/systemd/smtp_exporter.default" >"$work/smtp_exporter.default"
sed -e "s|/usr/local/bin/smtp_exporter|$work/smtp_exporter|" \
  -e "s|/etc/smtp_exporter/smtp_exporter.yml|$repo/config/default.yml|" \
  -e "s|/etc/default/smtp_exporter|$work/smtp_exporter.default|" \
  "$repo/deploy/systemd/smtp_exporter.service" >"$work/smtp_exporter.service"

echo "--- systemd-analyze verify"
if systemd-analyze verify "$work/smtp_exporter.service" >"$work/verify" 2>&1 && [[ ! -s $work/verify ]]; then
  pass "systemd-analyze verify is silent"
else
  cat "$work/verify"
  fail "systemd-analyze verify"
fi

# unit_value KEY: the value of KEY= in the unit's [Service] section.
unit_value() { sed -n "s|^$1=||p" "$work/smtp_exporter.service"; }
for key in DynamicUser NoNewPrivileges ProtectSystem; do
  [[ -n $(unit_value "$key") ]] && pass "$key=$(unit_value "$key")" || fail "$key missing"
done
[[ $(grep -c '^CapabilityBoundingSet=$' "$work/smtp_exporter.service") == 1 ]] && pass "CapabilityBoundingSet empty" || fail "CapabilityBoundingSet not empty"
[[ -n $(unit_value RestrictAddressFamilies) ]] && pass "RestrictAddressFamilies set" || fail "RestrictAddressFamilies missing"

echo "--- ExecStart, as systemd would run it"
# systemd splits an unquoted $ARGS into words; the shell does the same here.
set -a
# shellcheck source=/dev/null
. "$work/smtp_exporter.default"
set +a
read -r -a exec_start <<<"$(unit_value ExecStart | sed "s|\$ARGS|$ARGS|")"
"${exec_start[@]}" >"$work/exporter.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null && break
  sleep 0.1
done
if [[ $(curl -fs "http://127.0.0.1:$port/-/healthy") == OK ]]; then pass "ExecStart serves /-/healthy"; else fail "ExecStart serves /-/healthy"; fi
curl -fs "http://127.0.0.1:$port/metrics" | grep -q '^smtp_exporter_config_last_reload_successful 1$' &&
  pass "the shipped config loaded" || fail "the shipped config loaded"

echo "--- ExecReload"
read -r -a exec_reload <<<"$(unit_value ExecReload | sed "s|\$MAINPID|$pid|")"
"${exec_reload[@]}"
for _ in $(seq 50); do
  grep -q 'configuration reloaded' "$work/exporter.log" && break
  sleep 0.1
done
grep -q 'configuration reloaded' "$work/exporter.log" && kill -0 "$pid" 2>/dev/null &&
  pass "ExecReload reloads and the exporter keeps running" || fail "ExecReload"

[[ $failures -eq 0 ]] || cat "$work/exporter.log"
echo "systemd: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
