#!/usr/bin/env bash
# run.sh — smtp_exporter against a real Postfix on loopback, as a new user
# would run it.
#
# Usage (as root, Debian): test/postfix/run.sh
#
# Starts Postfix (setup.sh: STARTTLS on 25 behind postscreen with the
# pregreet test enforced and loopback not exempt, STARTTLS required on 587,
# implicit TLS on 465 with a 5-day certificate, no TLS on 2525), builds and
# starts the exporter, probes every port in one scrape, and checks:
#   - every endpoint is up and succeeds, with the expected TLS facts;
#   - TLS version and leaf expiry agree with openssl s_client;
#   - Postfix logged clean sessions only (no PREGREET, no pipelining
#     rejection, no "lost connection"), with the expected command summaries.
# Environment: KEEP_POSTFIX=1 leaves Postfix running afterwards.
# Everything runs in the network namespace smtp-exporter-test (test/lib.sh
# in_test_netns): Postfix and the exporter listen on its loopback only, and
# nothing of the machine's own network is touched.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
log() { printf 'run.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=test/lib.sh
. "$here/../lib.sh"
# Packages first: the namespace has no route out.
"$here/setup.sh" --packages-only
command -v curl >/dev/null || apt_install_missing "" curl
in_test_netns "$@"
work=$(mktemp -d)
exporter_pid=

cleanup() {
  [[ -n $exporter_pid ]] && kill "$exporter_pid" 2>/dev/null || true
  [[ ${KEEP_POSTFIX:-0} == 1 ]] || "$here/teardown.sh" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
failures=0
passes=0
pass() { echo "ok: $*"; passes=$((passes + 1)); }

"$here/setup.sh"
# shellcheck source=/dev/null
. "${SMTP_EXPORTER_POSTFIX_DIR:-/tmp/smtp-exporter-postfix}/env"

# Let postscreen's 1 s pass cache expire so the first probe on 25 gets the
# full multi-line pregreet test.
sleep $((SMTP_TEST_GREET_TTL_SECONDS + 1))

echo "--- building and starting the exporter"
(cd "$repo" && go build -o "$work/smtp_exporter" .)
printf 'modules:\n  postfix:\n' | cat - "$SMTP_TEST_MODULE_FILE" >"$work/config.yml"
"$work/smtp_exporter" --config.check --config.file="$work/config.yml"
listen=127.0.0.1:10599
"$work/smtp_exporter" --config.file="$work/config.yml" --web.listen-address=$listen \
  --log.level=debug >"$work/exporter.log" 2>&1 &
exporter_pid=$!
for _ in $(seq 50); do
  curl -fs "http://$listen/-/ready" >/dev/null && break
  sleep 0.1
done

since=$(($(wc -l <"$SMTP_TEST_MAILLOG") + 1))

echo "--- one scrape of every port"
start=$(date +%s.%N)
curl -fsS -H 'X-Prometheus-Scrape-Timeout-Seconds: 15' \
  "http://$listen/probe?target=$SMTP_TEST_HOST&module=postfix" >"$work/probe.txt"
took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
echo "scrape took ${took}s"

# value NAME LABELS: the sample's value, or "absent". LABELS in the
# exposition's (alphabetical) order.
value() {
  local series=$1
  [[ -n $2 ]] && series="$1{$2}"
  awk -v want="$series " 'index($0, want) == 1 { print $NF; found = 1 } END { if (!found) print "absent" }' "$work/probe.txt"
}
# check NAME LABELS WANT
check() {
  local got
  got=$(value "$1" "$2")
  if [[ $got == "$3" ]]; then pass "$1{$2} = $3"; else fail "$1{$2} = $got, want $3"; fi
}
ep() { echo "host=\"$SMTP_TEST_HOST\",port=\"$1\""; }

check probe_success "" 1
for port in $SMTP_TEST_PORT_MX $SMTP_TEST_PORT_SUBMISSION $SMTP_TEST_PORT_SMTPS $SMTP_TEST_PORT_PLAIN; do
  check probe_smtp_up "$(ep "$port")" 1
  check probe_smtp_success "$(ep "$port")" 1
  check probe_smtp_status_code "$(ep "$port")" 250
done
for port in $SMTP_TEST_PORT_MX $SMTP_TEST_PORT_SUBMISSION; do
  check probe_smtp_starttls_advertised "$(ep "$port")" 1
done
for port in $SMTP_TEST_PORT_MX $SMTP_TEST_PORT_SUBMISSION $SMTP_TEST_PORT_SMTPS; do
  check probe_smtp_tls "$(ep "$port")" 1
  check probe_smtp_cert_verified "$(ep "$port")" 1
  check probe_smtp_cert_hostname_match "$(ep "$port")" 1
done
check probe_smtp_tls "$(ep "$SMTP_TEST_PORT_PLAIN")" 0
check probe_tls_version_info "$(ep "$SMTP_TEST_PORT_PLAIN"),version=\"TLS 1.3\"" absent

# The postscreen greet wait shows in the banner phase of port 25.
banner=$(value probe_smtp_duration_seconds "host=\"$SMTP_TEST_HOST\",phase=\"banner\",port=\"$SMTP_TEST_PORT_MX\"")
if awk -v b="$banner" -v w="$SMTP_TEST_GREET_WAIT_SECONDS" 'BEGIN { exit !(b >= w) }'; then
  pass "port 25 banner phase ${banner}s covers postscreen's ${SMTP_TEST_GREET_WAIT_SECONDS}s greet wait"
else
  fail "port 25 banner phase ${banner}s is shorter than the greet wait: the pregreet test did not run"
fi

echo "--- agreement with openssl s_client"
compare_with_openssl() { # PORT MODE
  local facts version not_after expiry
  facts=$("$here/openssl_facts.sh" "$SMTP_TEST_HOST" "$1" "$2")
  version=$(sed -n 's/^tls_version=//p' <<<"$facts")
  not_after=$(sed -n 's/^not_after_unix=//p' <<<"$facts")
  check probe_tls_version_info "$(ep "$1"),version=\"$version\"" 1
  expiry=$(value probe_smtp_cert_expiry_timestamp_seconds "$(ep "$1")")
  if awk -v a="$expiry" -v b="$not_after" 'BEGIN { exit !(a == b) }'; then
    pass "port $1 leaf expiry $expiry matches openssl ($not_after)"
  else
    fail "port $1 leaf expiry $expiry, openssl says $not_after"
  fi
}
compare_with_openssl "$SMTP_TEST_PORT_MX" starttls
compare_with_openssl "$SMTP_TEST_PORT_SUBMISSION" starttls
compare_with_openssl "$SMTP_TEST_PORT_SMTPS" implicit
days=$(value probe_smtp_cert_days_until_expiry "$(ep "$SMTP_TEST_PORT_SMTPS")")
if awk -v d="$days" 'BEGIN { exit !(d > 0 && d < 7) }'; then
  pass "port 465 certificate expires in $days days (< 7)"
else
  fail "port 465 days until expiry = $days, want between 0 and 7"
fi

echo "--- a host name target (IPv6 first, IPv4 fallback) and debug output"
sleep $((SMTP_TEST_GREET_TTL_SECONDS + 1))
curl -fsS "http://localhost:${listen#*:}/probe?target=localhost:$SMTP_TEST_PORT_PLAIN&module=postfix&debug=true" >"$work/debug.txt"
if grep -q '^probe_smtp_success{host="localhost",port="2525"} 1' "$work/debug.txt" &&
  grep -q 'C: EHLO probe.smtp-exporter.test' "$work/debug.txt"; then
  pass "localhost:2525 probed, debug transcript shows the EHLO"
else
  fail "debug probe of localhost:2525:"
  cat "$work/debug.txt" >&2
fi
grep -q 'localhost:2525' <<<"$(curl -fsS "http://$listen/history")" && pass "/history lists the probe" || fail "/history misses the probe"

echo "--- Postfix's log: clean sessions only"
# Sessions: 4 ports + 3 openssl comparisons + 1 debug probe.
if LOGCHECK_WAIT_DISCONNECTS=8 LOGCHECK_FAIL_ON_REJECTED=1 "$here/logcheck.sh" "$SMTP_TEST_MAILLOG" "$since" >"$work/logcheck.txt"; then
  pass "no PREGREET, pipelining, bare newline or lost connection lines"
else
  fail "Postfix logged an impolite session"
fi
cat "$work/logcheck.txt"
for summary in "ehlo=2 starttls=1 quit=1 commands=4" "ehlo=1 quit=1 commands=2"; do
  grep -q "$summary" "$work/logcheck.txt" && pass "Postfix saw sessions of: $summary" || fail "no session of: $summary"
done
grep -q "PASS NEW\|PASS OLD" <(tail -n +"$since" "$SMTP_TEST_MAILLOG") && pass "postscreen passed the exporter" ||
  fail "postscreen did not log a PASS for the exporter"

if ((failures > 0)); then
  echo "--- exporter log" >&2
  cat "$work/exporter.log" >&2
  echo "--- probe answer" >&2
  cat "$work/probe.txt" >&2
fi
echo "postfix: $passes passed, $failures failed"
((failures == 0))
