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
# shellcheck source=test/checks.sh
. "$repo/test/checks.sh"

port=${SYSTEMD_TEST_PORT:-10596}
work=$(mktemp -d)
pid=
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
systemd-analyze verify "$work/smtp_exporter.service" >"$work/verify" 2>&1 || echo "exit status $?" >>"$work/verify"
check "systemd-analyze verify is silent" test ! -s "$work/verify"
cat "$work/verify"

# unit_value KEY: the value of KEY= in the unit's [Service] section.
unit_value() { sed -n "s|^$1=||p" "$work/smtp_exporter.service"; }
check "DynamicUser=yes" test "$(unit_value DynamicUser)" = yes
check "NoNewPrivileges=yes" test "$(unit_value NoNewPrivileges)" = yes
check "ProtectSystem=strict" test "$(unit_value ProtectSystem)" = strict
check "CapabilityBoundingSet empty" grep -qx 'CapabilityBoundingSet=' "$work/smtp_exporter.service"
check "RestrictAddressFamilies set" test -n "$(unit_value RestrictAddressFamilies)"

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
check "ExecStart serves /-/healthy" test "$(curl -fs "http://127.0.0.1:$port/-/healthy")" = OK
curl -fs "http://127.0.0.1:$port/metrics" >"$work/metrics" || true
check "the shipped config loaded" grep -qx 'smtp_exporter_config_last_reload_successful 1' "$work/metrics"

echo "--- ExecReload"
read -r -a exec_reload <<<"$(unit_value ExecReload | sed "s|\$MAINPID|$pid|")"
"${exec_reload[@]}"
for _ in $(seq 50); do
  grep -q 'configuration reloaded' "$work/exporter.log" && break
  sleep 0.1
done
check "ExecReload reloads the configuration" grep -q 'configuration reloaded' "$work/exporter.log"
check "the exporter keeps running after ExecReload" kill -0 "$pid"

[[ $checks_failed -eq 0 ]] || cat "$work/exporter.log"
checks_summary systemd
