#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2016 # pass/fail always succeed; literal $variables
# run.sh — end to end with real parts: Postfix, smtp_exporter, Prometheus and
# Alertmanager on loopback, driven by the shipped examples/ and dashboards/.
#
# Usage (as root, Debian; Go on PATH): test/e2e/run.sh
#
# 1. Installs what is missing with apt-get: prometheus (with promtool),
#    prometheus-alertmanager (with amtool), curl, jq; test/postfix/setup.sh
#    installs postfix, openssl and ca-certificates. Package scripts are kept
#    from starting the packaged services (a temporary policy-rc.d).
# 2. Starts Postfix (test/postfix/setup.sh: STARTTLS on 25 behind postscreen,
#    pregreet test enforced, loopback not exempt, bare newlines and
#    unauthorised pipelining forbidden; 587 with TLS required; 465 implicit
#    TLS with a certificate expiring within 7 days; 2525 without TLS), the
#    exporter, Alertmanager with examples/alertmanager.yml (receivers
#    replaced by loopback webhooks), and Prometheus with
#    examples/prometheus.yml (addresses, targets and intervals replaced) and
#    dashboards/alerts.yml (only the `for:` durations shortened to 10s).
#    Targets: 127.0.0.1 (ports 25, 587, 465, 2525) and 127.0.0.1:24, a closed
#    port, so that failure panels and SMTPEndpointDown have something to show.
# 3. Asserts through Prometheus's HTTP API: the relabeling, every gauge of
#    every port, TLS version and certificate expiry equal to what
#    `openssl s_client` sees (to the minute); every query of the dashboard
#    (variables substituted as Grafana would) evaluates and returns data,
#    except "AUTH offered before TLS" (this Postfix offers no AUTH) and the
#    rows "Mail domains" and "Mail transport security", which may be empty
#    (host targets only: no domain, DANE, MTA-STS or OCSP staple); every
#    rule evaluates without error. Through Alertmanager's API: the
#    expiring-certificate alert (critical) for 465 arrives, its warning twin
#    is inhibited, SMTPEndpointDown for the closed port arrives with phase
#    and reason, SMTPExporterConfigReloadFailed arrives after a broken
#    reload; and the healthy ports (25, 587, 2525) raise nothing.
# 4. Stops Prometheus between scrapes and checks Postfix's log: one clean
#    session per port per probe, no postscreen PREGREET, no pipelining or
#    bare newline rejections, no "lost connection after ...".
# Everything from step 2 on runs in the network namespace smtp-exporter-test
# (test/lib.sh in_test_netns): Postfix, the exporter, Prometheus and
# Alertmanager listen on its loopback only, so the machine's own services
# and ports are never touched, a system Postfix on port 25 included.
# Cleans up (processes it started, test/postfix/teardown.sh, its temp dir)
# and ends with "e2e: N passed, M failed". Takes about two minutes.
#
# Environment: KEEP_POSTFIX=1 leaves Postfix running; KEEP_WORK=1 keeps the
# temp dir (configs, logs, TSDB); E2E_PROMETHEUS_PORT (29090),
# E2E_ALERTMANAGER_PORT (29093), E2E_EXPORTER_PORT (29587),
# E2E_CLOSED_PORT (24) choose the loopback ports.
# Note: the Postfix of test/postfix/ uses fixed ports. If its test instance
# is already running, this test restarts it (fresh configuration, maillog
# rotated) and leaves it running at the end; otherwise it stops it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
postfix_dir="$repo/test/postfix"
host=127.0.0.1
# Below Linux's ephemeral range (32768-60999), where busy machines leave
# outgoing connections that would keep a listener from binding.
prom_port=${E2E_PROMETHEUS_PORT:-29090}
am_port=${E2E_ALERTMANAGER_PORT:-29093}
exporter_port=${E2E_EXPORTER_PORT:-29587}
closed_port=${E2E_CLOSED_PORT:-24}
prom=http://$host:$prom_port
am=http://$host:$am_port
exporter=http://$host:$exporter_port

t0=$SECONDS
passes=0
failures=0
work=
policy_rc_d_created=0
postfix_was_running=0
postfix_workdir=${SMTP_EXPORTER_POSTFIX_DIR:-/tmp/smtp-exporter-postfix}
declare -A pids=()
log() { printf 'e2e: %s\n' "$*" >&2; }
# shellcheck source=test/lib.sh
. "$repo/test/lib.sh"

say() { printf -- '--- %s (%ds)\n' "$*" $((SECONDS - t0)); }
pass() { printf 'ok: %s\n' "$*"; passes=$((passes + 1)); }
fail() { printf 'FAIL: %s\n' "$*"; failures=$((failures + 1)); }
die() {
  printf 'e2e: ERROR: %s\n' "$*" >&2
  failures=$((failures + 1))
  exit 1
}

diagnostics() {
  [[ -n $work && -d $work ]] || return 0
  local f
  for f in exporter prometheus alertmanager; do
    [[ -s $work/$f.log ]] || continue
    echo "--- last lines of $f.log" >&2
    tail -n 25 "$work/$f.log" >&2
  done
  if [[ -n ${pids[prometheus]:-} ]]; then
    echo "--- Prometheus targets" >&2
    curl -s "$prom/api/v1/targets" | jq -c '.data.activeTargets[]? | {scrapeUrl, health, lastError}' >&2 || true
    echo "--- Prometheus alerts" >&2
    curl -s "$prom/api/v1/alerts" | jq -c '.data.alerts[]? | {labels, state}' >&2 || true
  fi
  if [[ -n ${SMTP_TEST_MAILLOG:-} && -n ${since:-} && -r $SMTP_TEST_MAILLOG ]]; then
    echo "--- Postfix log since the exporter started (last 30 lines)" >&2
    tail -n "+$since" "$SMTP_TEST_MAILLOG" | tail -n 30 >&2
  fi
}

stop() { # NAME: end a process this script started, by its PID
  local pid=${pids[$1]:-}
  [[ -n $pid ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null || true
  unset "pids[$1]"
}

cleanup() {
  local status=$?
  trap - EXIT ERR
  if ((status != 0 && failures == 0)); then
    echo "e2e: aborted (exit status $status)"
    failures=1
  fi
  ((failures > 0 || status != 0)) && diagnostics
  stop prometheus
  stop alertmanager
  stop exporter
  ((policy_rc_d_created)) && rm -f /usr/sbin/policy-rc.d
  if [[ ${KEEP_POSTFIX:-0} != 1 && $postfix_was_running == 0 ]]; then
    "$postfix_dir/teardown.sh" >/dev/null 2>&1 || true
  fi
  if [[ -n $work ]]; then
    if [[ ${KEEP_WORK:-0} == 1 ]]; then echo "e2e: kept $work"; else rm -rf "$work"; fi
  fi
  echo "e2e: $passes passed, $failures failed ($((SECONDS - t0))s)"
  ((failures == 0 && status == 0)) || exit 1
  exit 0
}
trap cleanup EXIT
trap 'echo "e2e: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR
trap 'exit 130' INT TERM

# listening_on PORT: a TCP socket listens on PORT (loopback or wildcard).
# Reads /proc so that nothing connects to the port.
listening_on() {
  local hex f
  hex=$(printf '%04X' "$1")
  for f in /proc/net/tcp /proc/net/tcp6; do
    [[ -r $f ]] || continue
    awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' "$f" && return 0
  done
  return 1
}

# start NAME PORT COMMAND...: start a server in the background, logging to
# $work/NAME.log, after checking that nothing else listens on its port.
start() {
  local name=$1 port=$2
  shift 2
  listening_on "$port" && die "something else listens on port $port; choose another with E2E_*_PORT"
  "$@" >"$work/$name.log" 2>&1 &
  pids[$name]=$!
}

# ready NAME URL: NAME answers on URL, and it is the process we started
# (not another one that held the port first).
ready() {
  wait_for 60 "$1 at $2" curl -fs "$2" || die "$1 did not start"
  sleep 0.5
  kill -0 "${pids[$1]}" 2>/dev/null || die "$1 exited (see below); is its port taken?"
}

# wait_for SECONDS DESCRIPTION COMMAND...: run COMMAND every half second
# until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { fail "timed out after ${deadline}s waiting for $what"; return 1; }
    sleep 0.5
  done
}

# ------------------------------------------------------------ 1. packages
[[ $(id -u) -eq 0 ]] || die "must run as root (installs packages, runs Postfix)"
command -v go >/dev/null || die "go is not on PATH"
say "packages"
missing=()
for p in prometheus prometheus-alertmanager curl jq; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    # Keep the packages' maintainer scripts from starting Prometheus and
    # Alertmanager on their default ports (all interfaces).
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    policy_rc_d_created=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if ((policy_rc_d_created)); then rm -f /usr/sbin/policy-rc.d; policy_rc_d_created=0; fi
fi
"$postfix_dir/setup.sh" --packages-only
# The rest runs in the network namespace smtp-exporter-test (test/lib.sh),
# which has no route out: so the packages above come first. The cleanup of
# this process is the inner run's.
if [[ ${SMTP_EXPORTER_NETNS:-0} != 1 ]]; then
  trap - EXIT ERR
  in_test_netns "$@"
fi
prometheus_version=$(prometheus --version 2>&1 | head -n1)
alertmanager_version=$(prometheus-alertmanager --version 2>&1 | head -n1)
echo "$prometheus_version"
echo "$alertmanager_version"

for p in "$prom_port" "$am_port" "$exporter_port" "$closed_port"; do
  listening_on "$p" && die "something listens on port $p already; choose others with E2E_*_PORT"
done

# ------------------------------------------------------------ 2. start everything
say "Postfix (test/postfix/setup.sh)"
if [[ -f $postfix_workdir/etc/main.cf ]] && command -v postfix >/dev/null &&
  postfix -c "$postfix_workdir/etc" status >/dev/null 2>&1; then
  postfix_was_running=1
  echo "the test Postfix was already running: restarting it, and leaving it running afterwards"
fi
"$postfix_dir/setup.sh"
# shellcheck source=/dev/null
. "$postfix_workdir/env"
[[ $SMTP_TEST_HOST == "$host" ]] || die "setup.sh listens on $SMTP_TEST_HOST, expected $host"
tls_ports=("$SMTP_TEST_PORT_MX" "$SMTP_TEST_PORT_SUBMISSION" "$SMTP_TEST_PORT_SMTPS")
healthy_ports=("$SMTP_TEST_PORT_MX" "$SMTP_TEST_PORT_SUBMISSION" "$SMTP_TEST_PORT_PLAIN")
all_ports=("${tls_ports[@]}" "$SMTP_TEST_PORT_PLAIN")

work=$(mktemp -d /tmp/smtp-exporter-e2e.XXXXXX)
chmod 0755 "$work"

say "building and starting smtp_exporter on $exporter"
(cd "$repo" && go build -o "$work/smtp_exporter" .)
# The module is called default, as in examples/prometheus.yml.
printf 'modules:\n  default:\n' | cat - "$SMTP_TEST_MODULE_FILE" >"$work/exporter.yml"
cp "$work/exporter.yml" "$work/exporter.yml.good"
"$work/smtp_exporter" --config.check --config.file="$work/exporter.yml" 2>/dev/null ||
  die "the exporter rejects its test configuration"
since=$(($(wc -l <"$SMTP_TEST_MAILLOG") + 1))
start exporter "$exporter_port" \
  "$work/smtp_exporter" --config.file="$work/exporter.yml" --web.listen-address="$host:$exporter_port"
ready exporter "$exporter/-/ready"

say "rendering examples/prometheus.yml and dashboards/alerts.yml"
mkdir -p "$work/prometheus"
sed -E \
  -e "s/127\.0\.0\.1:10587/$host:$exporter_port/g" \
  -e "s/127\.0\.0\.1:9093/$host:$am_port/" \
  -e 's/^( *scrape_interval: *)60s/\110s/' \
  -e 's/^( *scrape_timeout: *)15s/\110s/' \
  -e 's/^( *evaluation_interval: *)60s/\15s/' \
  -e "s/^( *)- mail\.example\.com.*/\1- $host\n\1- $host:$closed_port/" \
  -e '/- smtp\.example\.org:587/d' \
  -e 's|^( *- )\.\./dashboards/alerts\.yml$|\1smtp_exporter_alerts.yml|' \
  "$repo/examples/prometheus.yml" >"$work/prometheus/prometheus.yml"
# Shipped expressions, shortened for: durations.
sed -E 's/^( +for: ).*/\110s/' "$repo/dashboards/alerts.yml" >"$work/prometheus/smtp_exporter_alerts.yml"
relabeling() { sed -n '/relabel_configs:/,/replacement:/p' "$1" | sed -E 's/[0-9.]+:[0-9]+/ADDR/'; }
if diff <(relabeling "$repo/examples/prometheus.yml") <(relabeling "$work/prometheus/prometheus.yml") >/dev/null &&
  [[ $(relabeling "$work/prometheus/prometheus.yml" | wc -l) -ge 7 ]]; then
  pass "the rendered scrape config keeps the example's relabeling"
else
  fail "the rendered scrape config lost the example's relabeling"
fi
if diff <(grep -v '^ *for:' "$repo/dashboards/alerts.yml") <(grep -v '^ *for:' "$work/prometheus/smtp_exporter_alerts.yml") >/dev/null; then
  pass "the rules Prometheus loads are the shipped ones, for: aside ($(grep -c '^ *for: 10s' "$work/prometheus/smtp_exporter_alerts.yml") rules)"
else
  fail "the rendered rules differ from dashboards/alerts.yml beyond for:"
fi
promtool check config "$work/prometheus/prometheus.yml" >"$work/promtool.txt" 2>&1 ||
  { cat "$work/promtool.txt"; die "promtool check config failed on the rendered config"; }
pass "promtool check config accepts the rendered config and rules"

say "rendering examples/alertmanager.yml"
amtool check-config "$repo/examples/alertmanager.yml" >"$work/amtool.txt" 2>&1 ||
  { cat "$work/amtool.txt"; die "amtool check-config rejects examples/alertmanager.yml"; }
pass "amtool check-config accepts examples/alertmanager.yml"
mkdir -p "$work/alertmanager"
receivers=$(awk '/^receivers:/ { r = 1; next } r && /^  - name:/ { print $3 }' "$repo/examples/alertmanager.yml")
[[ -n $receivers ]] || die "no receivers found in examples/alertmanager.yml"
{
  sed '/^receivers:/,$d' "$repo/examples/alertmanager.yml"
  echo "receivers:"
  for r in $receivers; do
    # Nothing listens there: notifications fail quietly, on loopback.
    printf '  - name: %s\n    webhook_configs:\n      - url: http://%s:%s/%s\n' "$r" "$host" "$closed_port" "$r"
  done
} >"$work/alertmanager/alertmanager.yml"
amtool check-config "$work/alertmanager/alertmanager.yml" >"$work/amtool.txt" 2>&1 ||
  { cat "$work/amtool.txt"; die "amtool check-config rejects the rendered Alertmanager config"; }

say "starting Alertmanager on $am"
start alertmanager "$am_port" \
  prometheus-alertmanager --config.file="$work/alertmanager/alertmanager.yml" \
  --storage.path="$work/alertmanager/data" --web.listen-address="$host:$am_port" --cluster.listen-address=
ready alertmanager "$am/-/ready"

say "starting Prometheus on $prom"
start prometheus "$prom_port" \
  prometheus --config.file="$work/prometheus/prometheus.yml" --storage.tsdb.path="$work/prometheus/data" \
  --web.listen-address="$host:$prom_port"
ready prometheus "$prom/-/ready"

# A reload with a broken file: the exporter keeps the old configuration and
# SMTPExporterConfigReloadFailed must reach Alertmanager. Restored below.
say "breaking the exporter's configuration"
printf 'modules:\n  default:\n    timeout: 15s\n    no_such_key: 1\n' >"$work/exporter.yml"
code=$(curl -s -o "$work/reload.txt" -w '%{http_code}' -X POST "$exporter/-/reload")
if [[ $code == 500 ]]; then pass "a broken reload answers 500: $(head -c 160 "$work/reload.txt")"; else fail "a broken reload answered $code"; fi

# ------------------------------------------------------------ 3. assertions
# query EXPR: Prometheus's JSON answer to an instant query.
query() { curl -sS -G --data-urlencode "query=$1" "$prom/api/v1/query"; }
# value EXPR: the first sample's value, or "absent".
value() { query "$1" | jq -r 'if .status == "success" then (.data.result[0].value[1] // "absent") else "error: \(.error)" end'; }
# check DESCRIPTION EXPR WANT
check() {
  local got
  got=$(value "$2")
  if [[ $got == "$3" ]]; then pass "$1"; else fail "$1: $2 = $got, want $3"; fi
}
ep() { echo "job=\"smtp\",instance=\"$host\",host=\"$host\",port=\"$1\""; }
scraped_enough() {
  local n
  n=$(value "count_over_time(probe_success{instance=\"$host\"}[10m])")
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 3))
}

say "waiting for three scrapes of every target"
wait_for 90 "three scrapes" scraped_enough || die "Prometheus did not scrape the exporter"
curl -s "$prom/api/v1/targets" >"$work/targets.json"
for t in "$host" "$host:$closed_port"; do
  url=$(jq -r --arg t "$t" '.data.activeTargets[] | select(.labels.job == "smtp" and .labels.instance == $t) | "\(.scrapeUrl) \(.health) \(.scrapeInterval) \(.scrapeTimeout)"' "$work/targets.json")
  want="http://$host:$exporter_port/probe?module=default&target=${t/:/%3A} up 10s 10s"
  if [[ $url == "$want" ]]; then pass "target $t: $url"; else fail "target $t: got '$url', want '$want'"; fi
done
health=$(jq -r '.data.activeTargets[] | select(.labels.job == "smtp_exporter") | .health' "$work/targets.json")
[[ $health == up ]] && pass "the exporter's own metrics are scraped" || fail "smtp_exporter job health: '$health'"

say "probe gauges through Prometheus"
check "probe_success of $host" "probe_success{instance=\"$host\"}" 1
check "every scrape of $host succeeded" "min_over_time(probe_success{instance=\"$host\"}[10m])" 1
check "probe_success of the closed port" "probe_success{instance=\"$host:$closed_port\"}" 0
check "the closed port fails in connect with refused" \
  "probe_smtp_failure_info{instance=\"$host:$closed_port\",port=\"$closed_port\",phase=\"connect\",reason=\"refused\"}" 1
for p in "${all_ports[@]}"; do
  check "port $p up" "probe_smtp_up{$(ep "$p")}" 1
  check "port $p success" "probe_smtp_success{$(ep "$p")}" 1
  check "port $p has all 10 phases" "count(probe_smtp_duration_seconds{$(ep "$p")})" 10
  check "port $p has no failure" "count(probe_smtp_failure_info{$(ep "$p")}) or vector(0)" 0
done
for p in "$SMTP_TEST_PORT_MX" "$SMTP_TEST_PORT_SUBMISSION"; do
  check "port $p advertises STARTTLS" "probe_smtp_starttls_advertised{$(ep "$p")}" 1
done
check "no STARTTLS series on the implicit-TLS port" "probe_smtp_starttls_advertised{$(ep "$SMTP_TEST_PORT_SMTPS")}" absent
for p in "${tls_ports[@]}"; do
  check "port $p ran under TLS" "probe_smtp_tls{$(ep "$p")}" 1
  check "port $p certificate verified" "probe_smtp_cert_verified{$(ep "$p")}" 1
  check "port $p certificate matches the host name" "probe_smtp_cert_hostname_match{$(ep "$p")}" 1
done
check "port $SMTP_TEST_PORT_PLAIN without TLS" "probe_smtp_tls{$(ep "$SMTP_TEST_PORT_PLAIN")}" 0
check "no TLS version on port $SMTP_TEST_PORT_PLAIN" "count(probe_tls_version_info{$(ep "$SMTP_TEST_PORT_PLAIN")}) or vector(0)" 0
check "every scrape of port 25 waited for postscreen's ${SMTP_TEST_GREET_WAIT_SECONDS}s greeting (pregreet test ran)" \
  "min_over_time(probe_smtp_duration_seconds{$(ep "$SMTP_TEST_PORT_MX"),phase=\"banner\"}[10m]) >= bool $SMTP_TEST_GREET_WAIT_SECONDS" 1

say "agreement with openssl s_client"
for p in "${tls_ports[@]}"; do
  mode=starttls
  [[ $p == "$SMTP_TEST_PORT_SMTPS" ]] && mode=implicit
  if ! facts=$("$postfix_dir/openssl_facts.sh" "$host" "$p" "$mode"); then
    fail "openssl_facts.sh $host $p $mode failed"
    continue
  fi
  version=$(sed -n 's/^tls_version=//p' <<<"$facts")
  not_after=$(sed -n 's/^not_after_unix=//p' <<<"$facts")
  check "port $p negotiates $version, as openssl does" "probe_tls_version_info{$(ep "$p"),version=\"$version\"}" 1
  check "port $p reports one TLS version" "count(probe_tls_version_info{$(ep "$p")})" 1
  expiry=$(value "probe_smtp_cert_expiry_timestamp_seconds{$(ep "$p")}")
  if awk -v a="$expiry" -v b="$not_after" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d < 60) }'; then
    pass "port $p certificate expiry $expiry agrees with openssl ($not_after) to the minute"
  else
    fail "port $p certificate expiry $expiry, openssl says $not_after"
  fi
  check "port $p days until expiry agree with openssl to the minute" \
    "abs(probe_smtp_cert_days_until_expiry{$(ep "$p")} * 86400 + timestamp(probe_smtp_cert_days_until_expiry{$(ep "$p")}) - $not_after) < bool 60" 1
done
check "465's certificate expires within 7 days" "probe_smtp_cert_days_until_expiry{$(ep "$SMTP_TEST_PORT_SMTPS")} < bool 7" 1
check "465's certificate is the short one of setup.sh" \
  "probe_smtp_cert_expiry_timestamp_seconds{$(ep "$SMTP_TEST_PORT_SMTPS")} == bool $SMTP_TEST_SHORT_CERT_NOT_AFTER_UNIX" 1

say "alerts reaching Alertmanager"
am_alerts() { curl -fsS "$am/api/v2/alerts"; }
# am_has JQ-CONDITION: Alertmanager holds an alert matching the condition.
am_has() { am_alerts | jq -e "[.[] | select($1)] | length > 0" >/dev/null; }
cert_critical='.labels.alertname == "SMTPCertificateExpiring" and .labels.severity == "critical" and .labels.port == "465" and .labels.instance == "'$host'"'
cert_warning='.labels.alertname == "SMTPCertificateExpiring" and .labels.severity == "warning" and .labels.port == "465"'
down_closed='.labels.alertname == "SMTPEndpointDown" and .labels.port == "'$closed_port'" and .labels.phase == "connect" and .labels.reason == "refused"'
reload_failed='.labels.alertname == "SMTPExporterConfigReloadFailed" and .labels.job == "smtp_exporter"'
wait_for 120 "SMTPCertificateExpiring (critical) for 465 in Alertmanager" am_has "$cert_critical" &&
  pass "SMTPCertificateExpiring{severity=critical,port=465} reached Alertmanager: $(am_alerts | jq -r "[.[] | select($cert_critical)][0].annotations.summary")"
wait_for 30 "SMTPEndpointDown for the closed port" am_has "$down_closed" &&
  pass "SMTPEndpointDown{port=$closed_port,phase=connect,reason=refused} reached Alertmanager"
wait_for 30 "SMTPExporterConfigReloadFailed" am_has "$reload_failed" &&
  pass "SMTPExporterConfigReloadFailed reached Alertmanager"
if wait_for 30 "the 465 warning in Alertmanager" am_has "$cert_warning" &&
  am_has "$cert_warning and .status.state == \"suppressed\" and (.status.inhibitedBy | length > 0)"; then
  pass "the warning twin of the critical 465 alert is inhibited (examples/alertmanager.yml)"
else
  fail "the warning SMTPCertificateExpiring for 465 is not inhibited: $(am_alerts | jq -c "[.[] | select($cert_warning) | .status]")"
fi

say "restoring the exporter's configuration"
cp "$work/exporter.yml.good" "$work/exporter.yml"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$exporter/-/reload")
[[ $code == 200 ]] && pass "reload of the fixed file answers 200" || fail "reload of the fixed file answered $code"
# Read the whole page first: grep -q stops reading early, and under
# pipefail curl's SIGPIPE would fail the check.
if grep -qx 'smtp_exporter_config_last_reload_successful 1' <<<"$(curl -fs "$exporter/metrics")"; then
  pass "smtp_exporter_config_last_reload_successful is 1 again"
else
  fail "smtp_exporter_config_last_reload_successful did not return to 1"
fi

say "every dashboard query through Prometheus"
dashboard="$repo/dashboards/smtp_exporter.json"
# Variables, in order, as Grafana resolves them: label_values(selector,
# label) through the label values API; "All" becomes Grafana's escaped
# regex alternation of every value.
declare -A var_regex=() var_values=()
substitute() { # EXPR -> EXPR with variables replaced
  local e=$1 name
  for name in "${!var_regex[@]}"; do
    e=${e//"\${$name}"/"${var_regex[$name]}"}
    e=${e//"\$$name"/"${var_regex[$name]}"}
  done
  e=${e//'$__rate_interval'/40s}
  e=${e//'$__interval'/10s}
  e=${e//'$__range'/1h}
  printf '%s' "$e"
}
while IFS=$'\t' read -r name definition; do
  [[ $definition =~ ^label_values\((.+),\ *([a-zA-Z_][a-zA-Z0-9_]*)\)$ ]] ||
    { fail "variable $name: unexpected query $definition"; continue; }
  selector=$(substitute "${BASH_REMATCH[1]}")
  label=${BASH_REMATCH[2]}
  values=$(curl -sS -G --data-urlencode "match[]=$selector" "$prom/api/v1/label/$label/values" | jq -r '.data[]?')
  if [[ -z $values ]]; then
    fail "variable $name ($definition) has no values"
    continue
  fi
  var_values[$name]=$values
  # Grafana escapes regex characters, then PromQL string escaping doubles
  # the backslashes: 127.0.0.1 -> 127\\.0\\.0\\.1
  var_regex[$name]="($(sed -E 's/[.*+?(){}|^$\\]/\\\\&/g' <<<"$values" | paste -sd '|'))"
  pass "variable $name: $(paste -sd ' ' <<<"$values")"
done < <(jq -r '.templating.list[] | select(.type == "query") | [.name, .definition] | @tsv' "$dashboard")
for want in "job smtp" "instance $host" "instance $host:$closed_port" "port 25" "port 465" "port 587" "port 2525" "exporter_job smtp_exporter"; do
  grep -qx -- "${want#* }" <<<"${var_values[${want%% *}]:-}" || fail "variable ${want%% *} lacks ${want#* }"
done

# Panels allowed to be empty here: this Postfix offers no AUTH at all.
allowed_empty=("AUTH offered before TLS")
# Rows allowed to be empty: this run probes host targets with the default
# module only, so no mail domain, DANE, MTA-STS, TLS-RPT or OCSP staple.
allowed_empty_rows=("Mail domains" "Mail transport security")
now=$(date +%s)
queries=0
while IFS=$'\x1f' read -r row title repeat ref instant expr64; do
  expr=$(base64 -d <<<"$expr64")
  # A repeated panel is drawn once per value of its variable.
  runs=("")
  [[ -n $repeat ]] && mapfile -t runs <<<"${var_values[$repeat]:-}"
  for r in "${runs[@]}"; do
    e=$(substitute "${expr}")
    label="panel \"$title\" $ref"
    if [[ -n $repeat ]]; then
      esc=$(sed -E 's/[.*+?(){}|^$\\]/\\\\&/g' <<<"$r")
      e=$(substitute "${expr//"\$$repeat"/"$esc"}")
      label+=" ($repeat=$r)"
    fi
    if [[ $instant == true ]]; then
      answer=$(curl -sS -G --data-urlencode "query=$e" "$prom/api/v1/query")
    else
      answer=$(curl -sS -G --data-urlencode "query=$e" --data-urlencode "start=$((now - 60))" \
        --data-urlencode "end=$now" --data-urlencode "step=10" "$prom/api/v1/query_range")
    fi
    queries=$((queries + 1))
    status=$(jq -r '.status' <<<"$answer")
    # Series with at least one number (not NaN).
    n=$(jq -r '[.data.result[]? | [(.value // empty), (.values // [])[]] | map(.[1]) |
      select(any(. != "NaN"))] | length' <<<"$answer" 2>/dev/null || echo 0)
    if [[ $status != success ]]; then
      fail "$label: $(jq -r '.error' <<<"$answer") in: $e"
    elif ((n > 0)); then
      pass "$label: $n series"
    elif printf '%s\n' "${allowed_empty[@]}" | grep -qxF "$title"; then
      pass "$label: empty, as it should be here"
    elif printf '%s\n' "${allowed_empty_rows[@]}" | grep -qxF "$row"; then
      pass "$label: empty, as it may be here (row $row)"
    else
      fail "$label: no data for: $e"
    fi
  done
done < <(jq -r '
  # Each panel with the title of the row it sits in (rows may hold their panels when collapsed).
  reduce .panels[] as $p ({row: "", out: []};
    if $p.type == "row" then .row = $p.title | .out += [$p.panels[]? | {row: $p.title, p: .}]
    else .out += [{row: .row, p: $p}] end) |
  .out[] | .row as $row | .p | select(.targets) as $p | $p.targets[] |
  [$row, $p.title, ($p.repeat // ""), .refId, (.instant // false | tostring), (.expr | @base64)] | join("\u001f")' "$dashboard")
((queries >= 30)) || fail "only $queries dashboard queries found"

say "rules and the healthy ports"
curl -s "$prom/api/v1/rules" >"$work/rules.json"
bad=$(jq -r '.data.groups[].rules[] | select(.health != "ok") | "\(.name): \(.lastError)"' "$work/rules.json")
nrules=$(jq '[.data.groups[].rules[]] | length' "$work/rules.json")
if [[ -z $bad && $nrules -ge 13 ]]; then pass "all $nrules rules evaluate without error"; else fail "rules with errors: $bad"; fi
curl -s "$prom/api/v1/alerts" >"$work/alerts.json"
for p in "${healthy_ports[@]}"; do
  got=$(jq -r --arg p "$p" --arg h "$host" '[.data.alerts[] | select(.labels.port == $p and .labels.host == $h) | "\(.labels.alertname)(\(.state))"] | join(" ")' "$work/alerts.json")
  [[ -z $got ]] && pass "healthy port $p raises no alert, pending or firing" || fail "healthy port $p raises: $got"
  n=$(am_alerts | jq --arg p "$p" '[.[] | select(.labels.port == $p)] | length')
  [[ $n == 0 ]] && pass "Alertmanager holds nothing for port $p" || fail "Alertmanager holds $n alert(s) for port $p"
done
# Over the whole run, not only now: ALERTS keeps every pending and firing state.
got=$(value "count(count_over_time(ALERTS{host=\"$host\",port=~\"$(IFS='|'; echo "${healthy_ports[*]}")\"}[1h])) or vector(0)")
[[ $got == 0 ]] && pass "no alert was pending or firing for the healthy ports at any time of the run" ||
  fail "$got alert series were pending or firing for the healthy ports during the run"
got=$(jq -r --arg p "$SMTP_TEST_PORT_SMTPS" '[.data.alerts[] | select(.labels.port == $p) | .labels.alertname] | unique | join(" ")' "$work/alerts.json")
[[ $got == SMTPCertificateExpiring ]] && pass "port 465 raises only SMTPCertificateExpiring" || fail "port 465 raises: $got"
got=$(jq -r --arg p "$closed_port" '[.data.alerts[] | select(.labels.port == $p) | .labels.alertname] | unique | join(" ")' "$work/alerts.json")
[[ $got == SMTPEndpointDown ]] && pass "the closed port raises only SMTPEndpointDown" || fail "the closed port raises: $got"
got=$(jq -r '[.data.alerts[] | select(.labels.port == null) | .labels.alertname] | unique - ["SMTPExporterConfigReloadFailed"] | join(" ")' "$work/alerts.json")
[[ -z $got ]] && pass "no other alert" || fail "unexpected alerts: $got"

# ------------------------------------------------------------ 4. Postfix's log
say "stopping Prometheus between two scrapes"
# idle_now: the last scrape of $host has finished and the next is >= 2.5 s away.
idle_now() {
  curl -s "$prom/api/v1/targets" | jq -e --arg t "$host" --argjson now "$(date +%s.%N)" '
    .data.activeTargets[] | select(.labels.job == "smtp" and .labels.instance == $t) |
    (.lastScrape | sub("\\.[0-9]+"; "") | sub("[+-]00:00$"; "Z") | fromdateiso8601) as $last |
    ($now - $last) as $elapsed |
    $elapsed > .lastScrapeDuration + 1.5 and $elapsed < (.scrapeInterval | rtrimstr("s") | tonumber) - 2.5'
}
wait_for 30 "a pause between scrapes" idle_now || true
stop prometheus
in_flight_zero() { grep -qx 'smtp_exporter_probes_in_flight 0' <<<"$(curl -fs "$exporter/metrics")"; }
wait_for 15 "probes in flight to finish" in_flight_zero || true
probes=$(curl -fs "$exporter/metrics" | awk '/^smtp_exporter_probes_total\{module="default",result="success"\}/ { print $2 }')
probes=${probes:-0}
echo "the exporter ran $probes successful probes of $host, each one session per port"

say "Postfix's log: clean sessions only"
# Sessions: one per port per probe, and openssl's three.
want=$((probes * ${#all_ports[@]} + ${#tls_ports[@]}))
if LOGCHECK_WAIT_DISCONNECTS=$want LOGCHECK_WAIT_SECONDS=15 LOGCHECK_FAIL_ON_REJECTED=1 \
  "$postfix_dir/logcheck.sh" "$SMTP_TEST_MAILLOG" "$since" >"$work/logcheck.txt"; then
  pass "no PREGREET, pipelining, bare newline, rejected command or lost connection in Postfix's log"
else
  fail "Postfix logged an impolite session"
fi
sed 's/^/  /' "$work/logcheck.txt"
n=$(sed -n 's/^logcheck: \([0-9]*\) disconnect line.*/\1/p' "$work/logcheck.txt")
if [[ $n == "$want" ]]; then
  pass "$n sessions logged, as many as probes and openssl made"
else
  fail "Postfix logged $n sessions, expected $want ($probes probes x ${#all_ports[@]} ports + ${#tls_ports[@]} openssl)"
  ((n > want)) && echo "  more sessions than this test made: did another client on this machine (a concurrent test probing 127.0.0.1?) use the test Postfix? Rerun when it is idle."
fi
# service -> the exporter's clean session summary
declare -A expected_summary=(
  ["postfix/smtpd"]="ehlo=2 starttls=1 quit=1 commands=4"
  ["postfix/submission/smtpd"]="ehlo=2 starttls=1 quit=1 commands=4"
  ["postfix/smtps/smtpd"]="ehlo=1 quit=1 commands=2"
  ["postfix/plain/smtpd"]="ehlo=1 quit=1 commands=2"
)
for svc in "${!expected_summary[@]}"; do
  got=$(grep -cxF -- "$svc: ${expected_summary[$svc]}" <(tail -n "+$since" "$SMTP_TEST_MAILLOG" |
    sed -nE 's/^.* ([^ ]+)\[[0-9]+\]: disconnect from [^ ]+ (.*)$/\1: \2/p') || true)
  [[ $got == "$probes" ]] && pass "$svc: $got clean sessions (${expected_summary[$svc]})" ||
    fail "$svc: $got sessions of '${expected_summary[$svc]}', expected $probes"
done
passed=$(tail -n "+$since" "$SMTP_TEST_MAILLOG" | grep -cE 'postscreen\[[0-9]+\]: PASS (NEW|OLD)' || true)
((passed >= probes)) && pass "postscreen passed the client $passed times ($probes probes)" ||
  fail "postscreen logged $passed PASS lines for $probes probes"

echo "$prometheus_version; $alertmanager_version; Postfix $SMTP_TEST_POSTFIX_VERSION"
