#!/usr/bin/env bash
# run.sh — smtp_exporter vs blackbox_exporter vs the bare SMTP dialogue,
# side by side on one Debian machine, against a throw-away Postfix on
# loopback. Prints a table, the ratios and PASS/FAIL against the targets of
# docs/benchmarks.md. Not part of CI.
#
# Usage (as root, from anywhere in the repository; needs Go >= the go.mod's):
#   bench/run.sh
#
# Environment (defaults in brackets):
#   BENCH_DIR       work dir, removed at the end [/tmp/smtp-exporter-bench]
#   BENCH_HOST      loopback address of the bench Postfix and tarpit;
#                   "auto" takes 127.0.0.1, or 127.0.0.2 when 127.0.0.1:25
#                   is taken (e.g. by test/postfix/setup.sh) [auto]
#   ROUNDS          interleaved rounds A B C D, B C D A, … [8]
#   PROBES          probes per system per round [300]
#   CONCURRENCY     probes at once [4]
#   SCRAPES         scrapes per variant per round, one at a time [20]
#   INFLIGHT        probes in flight at once against the tarpit [1000]
#   KEEP=1          keep the work dir (results.jsonl, logs, configs)
#   ALLOW_MTA_REPLACEMENT=1  let apt replace another MTA with Postfix
#
# What it does:
#   1. installs what is missing: postfix, prometheus-blackbox-exporter,
#      openssl (Debian packages);
#   2. builds smtp_exporter and bench/floor from this checkout;
#   3. starts bench/postfix-setup.sh's Postfix: 25 STARTTLS, 465 implicit
#      TLS, 587 STARTTLS required; no postscreen, no anvil limits;
#   4. runs ROUNDS rounds of, in turn, A smtp_exporter, B blackbox_exporter
#      (tcp module: greeting, EHLO, STARTTLS, handshake, EHLO, QUIT), C the
#      bare dialogue (bench/floor), D the bare dialogue behind net/http
#      (bench/floor serve, what HTTP alone adds): PROBES probes each at
#      CONCURRENCY, charging each the CPU time (utime+stime, /proc/PID/stat)
#      of the process that ran the dialogue — the exporter, not the load
#      generator; ratios are medians of per-round ratios;
#   5. scrapes of one port (25, 465, 587) and of all three, interleaved;
#   6. a fresh smtp_exporter with INFLIGHT probes in flight against a tarpit
#      that never greets (5 s budget), sampling RSS and goroutines;
#   7. prints the report and tears everything down.
# Steps 2 to 7 run in the network namespace smtp-exporter-test (test/lib.sh
# in_test_netns): the bench Postfix, the exporters and the tarpit listen on
# its loopback, and nothing of the machine's own network is touched. The
# namespace costs loopback traffic nothing, so the figures are comparable.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR="${BENCH_DIR:-/tmp/smtp-exporter-bench}"
BENCH_HOST="${BENCH_HOST:-auto}"
ROUNDS="${ROUNDS:-8}"
PROBES="${PROBES:-300}"
CONCURRENCY="${CONCURRENCY:-4}"
SCRAPES="${SCRAPES:-20}"
INFLIGHT="${INFLIGHT:-1000}"
EXPORTER_ADDR=127.0.0.1:19587
INFLIGHT_ADDR=127.0.0.1:19588
BLACKBOX_ADDR=127.0.0.1:19115
SERVE_ADDR=127.0.0.1:19589
TARPIT_PORT=19025

log() { printf 'run.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../test/lib.sh"
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

bench_preflight

# --- 1. packages -------------------------------------------------------------
# Debian starts the blackbox_exporter service where systemd runs; the
# benchmark runs its own instance on its own port, so that one may stay.
apt_install_missing "" postfix prometheus-blackbox-exporter openssl ca-certificates
# The rest runs in the network namespace smtp-exporter-test (test/lib.sh),
# which has no route out: packages come first.
in_test_netns "$@"
command -v go >/dev/null || die "Go is not in PATH (go.mod wants $(awk '/^go /{print $2}' "$REPO/go.mod"))"

# --- 2. build ----------------------------------------------------------------
mkdir -p "$BENCH_DIR"
BIN="$BENCH_DIR/bin"
mkdir -p "$BIN"
log "building smtp_exporter and bench/floor"
(cd "$REPO" && go build -o "$BIN/smtp_exporter" . && go build -o "$BIN/floor" ./bench/floor)
FLOOR="$BIN/floor"

# --- 3. Postfix --------------------------------------------------------------
bench_pick_host
for a in $EXPORTER_ADDR $INFLIGHT_ADDR $BLACKBOX_ADDR $SERVE_ADDR "$BENCH_HOST:$TARPIT_PORT"; do
  tcp_listening "${a%:*}" "${a##*:}" && die "$a is taken"
done
trap bench_cleanup EXIT
bench_start_postfix
CA="$BENCH_CA_FILE"
H="$BENCH_HOST"

# --- 4. exporters ------------------------------------------------------------
{
  echo "modules:"
  bench_module_starttls25
  cat <<EOF
  three:
    timeout: 10s
    ehlo_hostname: bench.example.net
    ip_protocol: ip4
    ports:
      - {port: 25, tls: starttls}
      - {port: 465, tls: implicit}
      - {port: 587, tls: starttls, expect: {require_tls: true}}
    tls_config: {ca_file: $CA}
    expect: {verify_certificate: true}
  tarpit:
    timeout: 5s
    ehlo_hostname: bench.example.net
    ip_protocol: ip4
    ports:
      - {port: $TARPIT_PORT, tls: starttls}
EOF
} >"$BENCH_DIR/smtp_exporter.yml"
cat >"$BENCH_DIR/blackbox.yml" <<EOF
modules:
  smtp_starttls:
    prober: tcp
    timeout: 10s
    tcp:
      preferred_ip_protocol: ip4
      tls_config: {ca_file: $CA}
      query_response:
        - expect: "^220 "
        - send: "EHLO bench.example.net\r"
        - expect: "^250-STARTTLS"
        - expect: "^250 "
        - send: "STARTTLS\r"
        - expect: "^220 "
          starttls: true
        - send: "EHLO bench.example.net\r"
        - expect: "^250 "
        - send: "QUIT\r"
        - expect: "^221 "
EOF

# The exporter needs two descriptors per probe in flight (HTTP, SMTP).
raise_nofile() { ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; }

start_exporter() { # ADDR LOGFILE: starts smtp_exporter, sets STARTED_PID
  (raise_nofile && exec "$BIN/smtp_exporter" --config.file="$BENCH_DIR/smtp_exporter.yml" \
    --web.listen-address="$1" --log.level=warn) >"$2" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  bench_wait_ready "smtp_exporter on $1" "http://$1/-/ready" "$2"
}
start_exporter "$EXPORTER_ADDR" "$BENCH_DIR/smtp_exporter.log"
EXPORTER_PID=$STARTED_PID
(raise_nofile && exec prometheus-blackbox-exporter --config.file="$BENCH_DIR/blackbox.yml" \
  --web.listen-address="$BLACKBOX_ADDR" --log.level=warn) >"$BENCH_DIR/blackbox.log" 2>&1 &
BLACKBOX_PID=$!
PIDS+=("$BLACKBOX_PID")
bench_wait_ready blackbox_exporter "http://$BLACKBOX_ADDR/-/healthy" "$BENCH_DIR/blackbox.log"

"$FLOOR" serve -listen "$SERVE_ADDR" -addr "$H:25" -ca "$CA" >"$BENCH_DIR/floor-serve.log" 2>&1 &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
bench_wait_ready "floor serve" "http://$SERVE_ADDR/-/ready" "$BENCH_DIR/floor-serve.log"

OUR_URL="http://$EXPORTER_ADDR/probe?module=starttls25&target=$H:25"
BB_URL="http://$BLACKBOX_ADDR/probe?module=smtp_starttls&target=$H:25"
log "what each side negotiates:"
"$FLOOR" get -url "$OUR_URL&debug=true" >"$BENCH_DIR/first-probe.txt" || true
grep -E 'TLS established|^probe_success|probe_smtp_failure_info' "$BENCH_DIR/first-probe.txt" >&2 || true
grep -q '^probe_success 1' "$BENCH_DIR/first-probe.txt" ||
  die "the first probe of $H:25 failed (another server on that port? try BENCH_HOST=127.0.0.2); transcript in $BENCH_DIR/first-probe.txt"
"$FLOOR" get -url "$BB_URL" | grep -E '^probe_success|^probe_tls_version_info|^probe_ssl_last_chain_info' | cut -c1-160 >&2 || true

RESULTS="$BENCH_DIR/results.jsonl"
: >"$RESULTS"
CLK=$(getconf CLK_TCK)

# --- 5. throughput: A B C D, B C D A, … -------------------------------------
# run_system NAME ROUND: one measured run of NAME.
run_system() {
  local common=(-round "$2" -n "$PROBES" -c "$CONCURRENCY" -clktck "$CLK" -out "$RESULTS")
  case $1 in
    smtp_exporter) "$FLOOR" load -system "$1" "${common[@]}" -pid "$EXPORTER_PID" -url "$OUR_URL" ;;
    blackbox_exporter) "$FLOOR" load -system "$1" "${common[@]}" -pid "$BLACKBOX_PID" -url "$BB_URL" ;;
    floor) "$FLOOR" floor "${common[@]}" -addr "$H:25" -ca "$CA" ;;
    floor+http) "$FLOOR" load -system "$1" "${common[@]}" -pid "$SERVE_PID" -url "http://$SERVE_ADDR/probe" ;;
  esac >/dev/null
}
# Each round starts one system later than the one before, so that no
# system always runs first or always follows the same one.
SYSTEMS=(smtp_exporter blackbox_exporter floor floor+http)
log "throughput: $ROUNDS rounds × $PROBES probes per system at concurrency $CONCURRENCY"
for r in $(seq "$ROUNDS"); do
  for i in "${!SYSTEMS[@]}"; do
    run_system "${SYSTEMS[(i + r - 1) % ${#SYSTEMS[@]}]}" "$r"
  done
  log "  round $r/$ROUNDS done"
done

# --- 6. one scrape of 3 ports vs each single port --------------------------
log "scrapes: $ROUNDS rounds × $SCRAPES scrapes per variant, one at a time"
for r in $(seq "$ROUNDS"); do
  for v in "25|port 25 (starttls)" "465|port 465 (implicit)" "587|port 587 (starttls, require_tls)" "|3 ports"; do
    port=${v%%|*}
    "$FLOOR" load -kind scrape -system "${v#*|}" -round "$r" -n "$SCRAPES" -c 1 -warmup 2 -clktck "$CLK" \
      -pid "$EXPORTER_PID" -url "http://$EXPORTER_ADDR/probe?module=three&target=$H${port:+:$port}" \
      -out "$RESULTS" >/dev/null
  done
done

# --- 7. INFLIGHT probes in flight against a tarpit -----------------------------
log "$INFLIGHT probes in flight against a tarpit on $H:$TARPIT_PORT (fresh exporter, 5 s budget)"
start_exporter "$INFLIGHT_ADDR" "$BENCH_DIR/smtp_exporter-inflight.log"
"$FLOOR" inflight -n "$INFLIGHT" -pid "$STARTED_PID" -exporter "http://$INFLIGHT_ADDR" \
  -tarpit "$H:$TARPIT_PORT" -module tarpit -out "$RESULTS" >/dev/null

# --- 8. report ---------------------------------------------------------------
echo
echo "smtp_exporter benchmark — $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r)"
echo "versions: $(go version | cut -d' ' -f3), Postfix $BENCH_POSTFIX_VERSION, $(prometheus-blackbox-exporter --version 2>&1 | head -1 | cut -d'(' -f1)"
echo "Postfix on $H (25 STARTTLS, 465 implicit, 587 STARTTLS required); CPU = utime+stime of the process running the dialogue"
echo
"$FLOOR" report -in "$RESULTS"
