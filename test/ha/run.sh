#!/usr/bin/env bash
# shellcheck disable=SC2015 # pass and fail always succeed
# run.sh — an HA pair of Prometheus servers and three exporter replicas on
# loopback, with the shipped sharded scrape config: every target goes to
# one replica, and the pair's two scrapes of it make one SMTP session.
#
# Usage (as root, Debian; Go on PATH): test/ha/run.sh
#
# 1. Installs what is missing (prometheus, curl, jq; Postfix through
#    test/postfix/setup.sh), then re-enters itself in the test network
#    namespace (test/lib.sh in_test_netns).
# 2. Starts the test Postfix (test/postfix/setup.sh), three smtp_exporter
#    replicas on 127.0.0.1:${HA_EXPORTER_PORTS} whose module `default` is
#    the test Postfix's module with share_window: 5s, and two Prometheus
#    servers, a and b, both loading examples/prometheus-sharded.yml with
#    only the replicas' addresses, the targets and the intervals (10 s)
#    replaced and external_labels.replica b on the second. Targets: each
#    port of the test Postfix (25, 587, 465, 2525) as 127.0.0.1:PORT and as
#    localhost:PORT — eight (target, module) keys.
# 3. After HA_RUN_SECONDS (45) of scraping, stops both servers and asserts:
#    - both servers send each target to the same replica, and the targets
#      are split over more than one replica;
#    - each target's probes (each replica's /history) ran on exactly that
#      replica and no other, and each replica's smtp_exporter_probes_total
#      equals the probes its /history holds, all successful;
#    - sharing: per replica, smtp_exporter_probes_shared_total is at least
#      its probes minus two per target (the pair's first and last
#      intervals may each go unshared), so that sessions per target per
#      interval come to ~1.0 where two unshared servers make 2.0;
#    - Postfix's log: as many sessions per port as probes of targets on
#      that port, and all of them clean (test/postfix/logcheck.sh).
# Cleans up what it started (and the test Postfix unless it was running
# before, or KEEP_POSTFIX=1) and ends with "ha: N passed, M failed".
#
# Environment: HA_EXPORTER_PORTS ("29601 29602 29603"), HA_PROMETHEUS_PORTS
# ("29691 29692"), HA_RUN_SECONDS (45), KEEP_WORK=1 keeps the temp dir.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
postfix_dir="$repo/test/postfix"
host=127.0.0.1
read -r -a exporter_ports <<<"${HA_EXPORTER_PORTS:-29601 29602 29603}"
read -r -a prom_ports <<<"${HA_PROMETHEUS_PORTS:-29691 29692}"
run_seconds=${HA_RUN_SECONDS:-45}
interval=10
share_window=5s
postfix_workdir=${SMTP_EXPORTER_POSTFIX_DIR:-/tmp/smtp-exporter-postfix}

t0=$SECONDS
passes=0
failures=0
work=
postfix_was_running=0
declare -A pids=()
log() { printf 'ha: %s\n' "$*" >&2; }
say() { printf -- '--- %s (%ds)\n' "$*" $((SECONDS - t0)); }
pass() { printf 'ok: %s\n' "$*"; passes=$((passes + 1)); }
fail() { printf 'FAIL: %s\n' "$*"; failures=$((failures + 1)); }
die() {
  printf 'ha: ERROR: %s\n' "$*" >&2
  failures=$((failures + 1))
  exit 1
}
# shellcheck source=test/lib.sh
. "$repo/test/lib.sh"

# stop NAME: ends a process this script started, by its PID.
stop() {
  local pid=${pids[$1]:-}
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
  unset "pids[$1]"
}

cleanup() {
  local status=$? name
  trap - EXIT ERR
  ((status != 0 && failures == 0)) && failures=1
  if ((failures > 0)) && [[ -n $work ]]; then
    for name in "${!pids[@]}"; do
      echo "--- last lines of $name.log" >&2
      tail -n 15 "$work/$name.log" >&2 || true
    done
  fi
  for name in "${!pids[@]}"; do stop "$name"; done
  if [[ ${KEEP_POSTFIX:-0} != 1 && $postfix_was_running == 0 ]]; then
    "$postfix_dir/teardown.sh" >/dev/null 2>&1 || true
  fi
  if [[ -n $work ]]; then
    if [[ ${KEEP_WORK:-0} == 1 ]]; then echo "ha: kept $work"; else rm -rf "$work"; fi
  fi
  echo "ha: $passes passed, $failures failed ($((SECONDS - t0))s)"
  ((failures == 0)) || exit 1
  exit 0
}

# start NAME PORT COMMAND...: starts a server in the background, logging to
# $work/NAME.log, after checking that nothing listens on its port.
start() {
  local name=$1 port=$2
  shift 2
  tcp_listening "$host" "$port" && die "something listens on $host:$port already; choose other ports (HA_*_PORTS)"
  "$@" >"$work/$name.log" 2>&1 &
  pids[$name]=$!
}

# ready NAME URL: NAME answers on URL within 60 s and is still running.
ready() {
  local deadline=$((SECONDS + 60))
  until curl -fs "$2" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$1 did not answer on $2"
    kill -0 "${pids[$1]}" 2>/dev/null || die "$1 exited"
    sleep 0.3
  done
}

# ------------------------------------------------------------ 1. packages
[[ $(id -u) -eq 0 ]] || die "must run as root (installs packages, runs Postfix)"
command -v go >/dev/null || die "go is not on PATH"
if [[ ${SMTP_EXPORTER_NETNS:-0} != 1 ]]; then
  say "packages"
  if ! command -v prometheus >/dev/null || ! command -v jq >/dev/null || ! command -v curl >/dev/null; then
    # A temporary policy-rc.d keeps the package from starting Prometheus
    # on its default port.
    [[ -e /usr/sbin/policy-rc.d ]] && die "install prometheus, curl and jq first (a policy-rc.d exists)"
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    apt_install_missing "" prometheus curl jq || { rm -f /usr/sbin/policy-rc.d; exit 1; }
    rm -f /usr/sbin/policy-rc.d
  fi
  "$postfix_dir/setup.sh" --packages-only
  in_test_netns "$@"
fi
trap cleanup EXIT
trap 'echo "ha: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR
trap 'exit 130' INT TERM

# ------------------------------------------------------------ 2. start
say "Postfix (test/postfix/setup.sh)"
if [[ -f $postfix_workdir/etc/main.cf ]] && postfix -c "$postfix_workdir/etc" status >/dev/null 2>&1; then
  postfix_was_running=1
fi
"$postfix_dir/setup.sh"
# shellcheck source=/dev/null
. "$postfix_workdir/env"
ports=("$SMTP_TEST_PORT_MX" "$SMTP_TEST_PORT_SUBMISSION" "$SMTP_TEST_PORT_SMTPS" "$SMTP_TEST_PORT_PLAIN")
targets=()
for name in "$host" localhost; do
  for p in "${ports[@]}"; do targets+=("$name:$p"); done
done

work=$(mktemp -d /tmp/smtp-exporter-ha.XXXXXX)
chmod 0755 "$work"
say "building and starting ${#exporter_ports[@]} exporter replicas"
(cd "$repo" && go build -o "$work/smtp_exporter" .)
{
  printf 'modules:\n  default:\n    share_window: %s\n    ip_protocol: ip4\n' "$share_window"
  cat "$SMTP_TEST_MODULE_FILE"
} >"$work/exporter.yml"
"$work/smtp_exporter" --config.check --config.file="$work/exporter.yml" >/dev/null 2>&1 ||
  die "the exporter rejects $work/exporter.yml"
since=$(($(wc -l <"$SMTP_TEST_MAILLOG") + 1))
replicas=()
for i in "${!exporter_ports[@]}"; do
  replicas+=("$host:${exporter_ports[$i]}")
  start "exporter-$i" "${exporter_ports[$i]}" "$work/smtp_exporter" --config.file="$work/exporter.yml" \
    --web.listen-address="$host:${exporter_ports[$i]}"
done
for i in "${!replicas[@]}"; do ready "exporter-$i" "http://${replicas[$i]}/-/ready"; done

say "rendering examples/prometheus-sharded.yml for servers a and b"
# render REPLICA: the shipped file with loopback addresses, the test's
# targets and a 10 s interval; the relabeling is kept as shipped.
render() {
  local -a subst=(-e "s/^( *replica: )a\b.*/\1$1/"
    -e "s/^( *scrape_interval: *)60s/\1${interval}s/" -e "s/^( *scrape_timeout: *)15s/\1${interval}s/")
  local i t list=
  for i in "${!replicas[@]}"; do
    subst+=(-e "s/smtp-exporter-$i\.smtp-exporter-headless\.monitoring\.svc:10587/${replicas[$i]}/")
  done
  for t in "${targets[@]}"; do list+="\\1- $t\\n"; done
  subst+=(-e "s/^( *)- mail\.example\.com\$/${list%\\n}/" -e '/^ *- smtp\.example\.org:587$/d')
  sed -E "${subst[@]}" "$repo/examples/prometheus-sharded.yml"
}
relabeling() { sed -n '/relabel_configs:/,/action: keep/p' "$1" | sed -E 's/[a-z0-9.-]+:[0-9]+/ADDR/'; }
members=(a b)
for i in 0 1; do
  mkdir -p "$work/prometheus-${members[$i]}"
  render "${members[$i]}" >"$work/prometheus-${members[$i]}/prometheus.yml"
  promtool check config "$work/prometheus-${members[$i]}/prometheus.yml" >"$work/promtool.txt" 2>&1 ||
    { cat "$work/promtool.txt"; die "promtool rejects the config rendered for ${members[$i]}"; }
done
if diff <(relabeling "$repo/examples/prometheus-sharded.yml") <(relabeling "$work/prometheus-a/prometheus.yml") >/dev/null &&
  (($(relabeling "$work/prometheus-a/prometheus.yml" | grep -c 'action: hashmod') == 1)) &&
  diff <(grep -v 'replica:' "$work/prometheus-a/prometheus.yml") <(grep -v 'replica:' "$work/prometheus-b/prometheus.yml") >/dev/null; then
  pass "a and b load the shipped relabeling, addresses aside, and differ only in the replica label"
else
  fail "the rendered configs lost the shipped relabeling, or a and b differ beyond the replica label"
fi
# The modulus must match the replicas this test starts.
grep -qE "^ *modulus: ${#replicas[@]}( |\$)" "$work/prometheus-a/prometheus.yml" ||
  die "examples/prometheus-sharded.yml's modulus is not ${#replicas[@]}"

say "starting Prometheus a and b; scraping for ${run_seconds}s"
for i in 0 1; do
  m=${members[$i]}
  start "prometheus-$m" "${prom_ports[$i]}" prometheus --config.file="$work/prometheus-$m/prometheus.yml" \
    --storage.tsdb.path="$work/prometheus-$m/data" --web.listen-address="$host:${prom_ports[$i]}"
done
for i in 0 1; do ready "prometheus-${members[$i]}" "http://$host:${prom_ports[$i]}/-/ready"; done
sleep "$run_seconds"

# ------------------------------------------------------------ 3. assertions
say "where each server sends each target"
# assignment M: "target replica-address health" per smtp target of server M.
assignment() {
  curl -fsS "http://$host:${prom_ports[$1]}/api/v1/targets" | jq -r '
    .data.activeTargets[] | select(.labels.job == "smtp") |
    "\(.labels.instance) \(.scrapeUrl | capture("//(?<a>[^/]+)/").a) \(.health)"' | sort
}
assignment 0 >"$work/assign-a.txt"
assignment 1 >"$work/assign-b.txt"
# Both at once: a member scraping on alone would make unshared probes.
kill -TERM "${pids[prometheus-a]}" "${pids[prometheus-b]}" 2>/dev/null || true
for i in 0 1; do stop "prometheus-${members[$i]}"; done
sed 's/^/  /' "$work/assign-a.txt"
if [[ $(wc -l <"$work/assign-a.txt") == "${#targets[@]}" ]] &&
  diff <(cut -d' ' -f1,2 "$work/assign-a.txt") <(cut -d' ' -f1,2 "$work/assign-b.txt") >/dev/null; then
  pass "a and b send each of the ${#targets[@]} targets to the same replica"
else
  fail "a and b disagree on where targets go: $(diff "$work/assign-a.txt" "$work/assign-b.txt" | tr '\n' ' ')"
fi
down=$(cat "$work/assign-a.txt" "$work/assign-b.txt" | awk '$3 != "up"' | wc -l)
((down == 0)) && pass "every scrape target is up on both servers" || fail "$down scrape targets are not up"
used=$(cut -d' ' -f2 "$work/assign-a.txt" | sort -u | wc -l)
((used > 1)) && pass "the targets are split over $used of ${#replicas[@]} replicas" ||
  fail "all targets went to one replica"

in_flight_zero() { grep -qx 'smtp_exporter_probes_in_flight 0' <<<"$(curl -fs "http://$1/metrics")"; }
for r in "${replicas[@]}"; do
  for _ in $(seq 60); do in_flight_zero "$r" && break; sleep 0.25; done
done

say "each replica's probes, shared answers and /history"
# metric REPLICA NAME: the sum of NAME's samples for module default.
metric() {
  curl -fsS "http://$1/metrics" | awk -v n="$2" '
    index($0, n "{") == 1 && /module="default"/ { s += $NF } END { print s + 0 }'
}
# history_targets REPLICA: the target of each probe /history keeps.
history_targets() {
  curl -fsS "http://$1/history?refresh=0" |
    sed -nE 's|.*<td rowspan="[0-9]+">([^<]+)</td><td rowspan="[0-9]+">default</td>.*|\1|p'
}
total_probes=0
total_shared=0
declare -A probes_of_port=()
for r in "${replicas[@]}"; do
  history_targets "$r" | sort >"$work/history-$r.txt"
  probes=$(metric "$r" smtp_exporter_probes_total)
  failed=$(curl -fsS "http://$r/metrics" | awk '/^smtp_exporter_probes_total\{/ && /result="failure"/ { s += $NF } END { print s + 0 }')
  shared=$(metric "$r" smtp_exporter_probes_shared_total)
  mine=$(awk -v r="$r" '$2 == r { print $1 }' "$work/assign-a.txt")
  n_mine=$(grep -c . <<<"$mine" || true)
  total_probes=$((total_probes + probes))
  total_shared=$((total_shared + shared))
  echo "  $r: $n_mine targets, $probes probes, $shared shared answers"
  [[ $(wc -l <"$work/history-$r.txt") == "$probes" && $failed == 0 ]] &&
    pass "$r: smtp_exporter_probes_total is $probes, as many as /history holds, none failed" ||
    fail "$r: smtp_exporter_probes_total $probes (failed $failed), /history holds $(wc -l <"$work/history-$r.txt")"
  if [[ $(sort -u "$work/history-$r.txt") == "$(sort <<<"$mine" | grep . || true)" ]]; then
    pass "$r probed exactly the targets both servers send it (${mine//$'\n'/ })"
  else
    fail "$r probed $(sort -u "$work/history-$r.txt" | tr '\n' ' ')but is sent ${mine//$'\n'/ }"
  fi
  if ((n_mine == 0 || (shared > 0 && shared >= probes - 2 * n_mine))); then
    pass "$r: $shared shared answers for $probes probes of $n_mine targets (at least probes - 2 per target)"
  else
    fail "$r: only $shared shared answers for $probes probes of $n_mine targets"
  fi
  while read -r t; do
    probes_of_port[${t##*:}]=$((${probes_of_port[${t##*:}]:-0} + 1))
  done <"$work/history-$r.txt"
done
requests=$((total_probes + total_shared))
((requests > 0)) || die "no scrape reached the exporters"
per_interval=$(awk -v p="$total_probes" -v r="$requests" 'BEGIN { printf "%.2f", 2 * p / r }')
echo "  sessions per target per interval: $per_interval (2 x $total_probes probes / $requests scrapes; 2.00 without sharing)"

say "Postfix's log: one clean session per probe"
LOGCHECK_WAIT_DISCONNECTS=$total_probes LOGCHECK_WAIT_SECONDS=15 LOGCHECK_FAIL_ON_REJECTED=1 \
  "$postfix_dir/logcheck.sh" "$SMTP_TEST_MAILLOG" "$since" >"$work/logcheck.txt" &&
  pass "no impolite session in Postfix's log" || fail "Postfix logged an impolite session"
sed 's/^/  /' "$work/logcheck.txt"
declare -A service_of_port=(["$SMTP_TEST_PORT_MX"]=postfix/smtpd ["$SMTP_TEST_PORT_SUBMISSION"]=postfix/submission/smtpd
  ["$SMTP_TEST_PORT_SMTPS"]=postfix/smtps/smtpd ["$SMTP_TEST_PORT_PLAIN"]=postfix/plain/smtpd)
for p in "${ports[@]}"; do
  svc=${service_of_port[$p]}
  got=$(tail -n "+$since" "$SMTP_TEST_MAILLOG" | grep -cE " ${svc}\[[0-9]+\]: disconnect from " || true)
  want=${probes_of_port[$p]:-0}
  ((got == want && want > 0)) && pass "port $p: $got sessions for $want probes of its 2 targets" ||
    fail "port $p: Postfix logged $got sessions, the exporters ran $want probes"
done
