#!/usr/bin/env bash
# compare.sh — CPU per STARTTLS probe of two builds of smtp_exporter and of
# the bare dialogue, interleaved in rotating order against bench/run.sh's
# Postfix, so that a change is judged by ratios measured side by side in one
# run rather than against a number from another day. Not part of CI.
#
# Usage (as root, from anywhere in the repository):
#   bench/compare.sh [REV_A [REV_B]]
# REV_A defaults to HEAD, REV_B to the working tree ("."); either may be any
# git revision.
#
# Environment: BENCH_DIR (default /tmp/smtp-exporter-compare), BENCH_HOST
# (auto, as in run.sh), ROUNDS [10], PROBES [300], CONCURRENCY [4], KEEP=1.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REV_A="${1:-HEAD}"
REV_B="${2:-.}"
BENCH_DIR="${BENCH_DIR:-/tmp/smtp-exporter-compare}"
BENCH_HOST="${BENCH_HOST:-auto}"
ROUNDS="${ROUNDS:-10}"
PROBES="${PROBES:-300}"
CONCURRENCY="${CONCURRENCY:-4}"
ADDR_A=127.0.0.1:19597
ADDR_B=127.0.0.1:19598

log() { printf 'compare.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../test/lib.sh"
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

bench_preflight
apt_install_missing "" postfix openssl ca-certificates jq
in_test_netns "$@" # the rest, in the test network namespace (test/lib.sh)

# build REV DEST: builds smtp_exporter at git revision REV ("." = the
# working tree, uncommitted changes included).
build() {
  local src="$REPO"
  if [[ $1 != . ]]; then
    src="$BENCH_DIR/src-$2"
    rm -rf "$src" && mkdir -p "$src"
    git -C "$REPO" archive "$1" | tar -x -C "$src"
  fi
  (cd "$src" && go build -o "$BENCH_DIR/bin/$2" .)
}
mkdir -p "$BENCH_DIR/bin"
log "building A = $REV_A, B = $REV_B and bench/floor"
build "$REV_A" exporter-a
build "$REV_B" exporter-b
(cd "$REPO" && go build -o "$BENCH_DIR/bin/floor" ./bench/floor)
FLOOR="$BENCH_DIR/bin/floor"

bench_pick_host
for a in $ADDR_A $ADDR_B; do
  tcp_listening "${a%:*}" "${a##*:}" && die "$a is taken"
done
trap bench_cleanup EXIT
bench_start_postfix
{
  echo "modules:"
  bench_module_starttls25
} >"$BENCH_DIR/smtp_exporter.yml"

declare -A PID
for side in a b; do
  addr=$ADDR_A && [[ $side == b ]] && addr=$ADDR_B
  "$BENCH_DIR/bin/exporter-$side" --config.file="$BENCH_DIR/smtp_exporter.yml" \
    --web.listen-address="$addr" --log.level=warn >"$BENCH_DIR/exporter-$side.log" 2>&1 &
  PID[$side]=$!
  PIDS+=("$!")
  bench_wait_ready "exporter $side" "http://$addr/-/ready" "$BENCH_DIR/exporter-$side.log"
done

RESULTS="$BENCH_DIR/results.jsonl"
: >"$RESULTS"
CLK=$(getconf CLK_TCK)
# run_side SIDE ROUND: one measured run of exporter a or b, or the floor.
run_side() {
  local common=(-round "$2" -n "$PROBES" -c "$CONCURRENCY" -clktck "$CLK" -out "$RESULTS")
  case $1 in
    a) "$FLOOR" load -system a "${common[@]}" -pid "${PID[a]}" -url "http://$ADDR_A/probe?module=starttls25&target=$BENCH_HOST:25" ;;
    b) "$FLOOR" load -system b "${common[@]}" -pid "${PID[b]}" -url "http://$ADDR_B/probe?module=starttls25&target=$BENCH_HOST:25" ;;
    floor) "$FLOOR" floor "${common[@]}" -addr "$BENCH_HOST:25" -ca "$BENCH_CA_FILE" ;;
  esac >/dev/null
}
# The order rotates from round to round (A B floor, B floor A, …), so that
# no side always runs first or after the same one.
SIDES=(a b floor)
log "$ROUNDS rounds × $PROBES probes of $BENCH_HOST:25 at concurrency $CONCURRENCY: A, B, floor, rotating"
for r in $(seq "$ROUNDS"); do
  for i in "${!SIDES[@]}"; do
    run_side "${SIDES[(i + r - 1) % ${#SIDES[@]}]}" "$r"
  done
done

# The per-round ratios cancel what the machine did during a round; their
# median is the figure to quote.
jq -rs --arg a "$REV_A" --arg b "$REV_B" '
  def median: sort | if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
  def fmt: . * 1000 | round / 1000 | tostring;
  (group_by(.round) | map(INDEX(.system) | map_values(.cpu_ms_per_probe))) as $rounds
  | (map(select(.fail > 0)) | length) as $failed
  | "CPU ms per probe, median of \($rounds | length) rounds (\($failed) runs with failures)",
    "  A \($a): \($rounds | map(.a) | median | fmt)",
    "  B \($b): \($rounds | map(.b) | median | fmt)",
    "  floor:  \($rounds | map(.floor) | median | fmt)",
    "ratios, median of per-round ratios",
    "  B / A      \($rounds | map(.b / .a) | median | fmt)",
    "  A / floor  \($rounds | map(.a / .floor) | median | fmt)",
    "  B / floor  \($rounds | map(.b / .floor) | median | fmt)"
' "$RESULTS"
