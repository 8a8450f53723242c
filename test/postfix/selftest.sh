#!/usr/bin/env bash
# selftest.sh — prove that the test Postfix (setup.sh) really judges clients:
# clean sessions leave a clean log, impolite ones are caught by logcheck.sh.
#
# Usage (after setup.sh; needs python3 for smtpclient.py):
#   test/postfix/selftest.sh
#
# Takes ~30 s: every port-25 session waits postscreen_greet_wait, and
# sessions to port 25 are spaced more than postscreen_greet_ttl apart so the
# pregreet test runs every time. Exits non-zero if any check fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
log() { printf 'selftest.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=test/lib.sh
. "$here/../lib.sh"
in_test_netns "$@" # where setup.sh's Postfix listens
# shellcheck source=/dev/null
. "${SMTP_EXPORTER_POSTFIX_DIR:-/tmp/smtp-exporter-postfix}/env"
H=$SMTP_TEST_HOST
LOG=$SMTP_TEST_MAILLOG
failures=0

pass() { printf 'PASS  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; failures=$((failures + 1)); }
indent() { sed 's/^/      /'; }
# shellcheck disable=SC2317 # called through check()
absent() { ! grep -q -- "$1"; }
# check COND-COMMAND... -- PASS-TEXT FAIL-TEXT
check() {
  local args=()
  while [[ $1 != -- ]]; do args+=("$1"); shift; done
  if "${args[@]}"; then pass "$2"; else fail "$3"; fi
}
mark() { since=$(($(wc -l <"$LOG") + 1)); }
# Let postscreen forget the last pass so the next port-25 session is tested.
ttl_gap() { sleep "$((SMTP_TEST_GREET_TTL_SECONDS + 1))"; }
client() { python3 "$here/smtpclient.py" "$H" "$@" --cafile "$SMTP_TEST_CA_FILE"; }

# expect_clean NAME SUMMARY...: the range since `mark` passes logcheck and
# has exactly these disconnect summaries (in order of appearance).
expect_clean() {
  local name=$1 out got want
  shift
  if ! out=$(LOGCHECK_WAIT_DISCONNECTS=$# LOGCHECK_FAIL_ON_REJECTED=1 "$here/logcheck.sh" "$LOG" "$since"); then
    fail "$name: log not clean"; indent <<<"$out"; return
  fi
  got=$(tail -n "+$since" "$LOG" | sed -nE 's/^.* disconnect from [^ ]+ (.*)$/\1/p')
  want=$(printf '%s\n' "$@")
  if [[ $got == "$want" ]]; then pass "$name: clean log ($*)"; else
    fail "$name: disconnect summaries: got [$got], want [$want]"; fi
}

# expect_caught NAME PATTERN: logcheck fails on the range and shows PATTERN.
expect_caught() {
  local name=$1 pattern=$2 out
  sleep 0.5 # postlogd is asynchronous
  if out=$(LOGCHECK_WAIT_DISCONNECTS=1 "$here/logcheck.sh" "$LOG" "$since"); then
    fail "$name: logcheck passed, expected it to catch \"$pattern\""
  elif grep -q -- "$pattern" <<<"$out"; then
    pass "$name: caught \"$pattern\""
  else
    fail "$name: logcheck failed without \"$pattern\""; indent <<<"$out"
  fi
}

echo "== Postfix $SMTP_TEST_POSTFIX_VERSION, maillog $LOG"

# 1. Port 25: multi-line postscreen greeting, final line after the wait.
ttl_gap; mark
out=$(client 25 clean --tls starttls)
first=$(grep -m1 ' S: ' <<<"$out" | sed 's/.* S: //')
res=$(grep '^result ' <<<"$out" || true)
t1=$(sed -nE 's/.*greeting_first_line_s=([0-9.]+).*/\1/p' <<<"$res")
t2=$(sed -nE 's/.*greeting_complete_s=([0-9.]+).*/\1/p' <<<"$res")
if [[ $first == 220-* && -n $t2 ]] &&
  awk -v a="$t1" -v b="$t2" -v w="$SMTP_TEST_GREET_WAIT_SECONDS" 'BEGIN { exit !(b - a >= w - 0.2) }'; then
  pass "25: greeting \"$first\" then final 220 after $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", b - a }') s"
else
  fail "25: expected a 220- line and the final 220 >= ${SMTP_TEST_GREET_WAIT_SECONDS}s later"; indent <<<"$out"
fi
check grep -q 'tls=1' <<<"$res" -- "25: STARTTLS offered and used" "25: no TLS"
expect_clean "25 clean STARTTLS session" "ehlo=2 starttls=1 quit=1 commands=4"

# 2. The other ports, clean.
mark; client 587 clean --tls starttls >/dev/null || fail "587 clean session failed"
expect_clean "587 clean STARTTLS session" "ehlo=2 starttls=1 quit=1 commands=4"
mark; client 465 clean --tls implicit >/dev/null || fail "465 clean session failed"
expect_clean "465 clean implicit-TLS session" "ehlo=1 quit=1 commands=2"
mark; out=$(client 2525 clean --tls starttls) || fail "2525 clean session failed"
check absent 'S: 250.STARTTLS' <<<"$out" -- "2525: no STARTTLS advertised" "2525 advertises STARTTLS"
expect_clean "2525 clean plain session" "ehlo=1 quit=1 commands=2"

# 3. openssl_facts.sh: right facts, clean log.
check_facts() {
  local port=$1 mode=$2 want_na=$3 out
  out=$("$here/openssl_facts.sh" "$H" "$port" "$mode") || { fail "facts $port: failed"; return; }
  if grep -qx 'tls_version=TLS 1\.[0-3]' <<<"$out" && grep -qx "not_after_unix=$want_na" <<<"$out"; then
    pass "facts $port $mode: $(tr '\n' ' ' <<<"$out")"
  else
    fail "facts $port $mode: got [$out], want not_after_unix=$want_na"
  fi
}
ttl_gap; mark
check_facts 25 starttls "$SMTP_TEST_CERT_NOT_AFTER_UNIX"
check_facts 587 starttls "$SMTP_TEST_CERT_NOT_AFTER_UNIX"
check_facts 465 implicit "$SMTP_TEST_SHORT_CERT_NOT_AFTER_UNIX"
expect_clean "openssl_facts.sh sessions" \
  "ehlo=1 starttls=1 quit=1 commands=3" "ehlo=1 starttls=1 quit=1 commands=3" "quit=1 commands=1"

# 4. Certificates.
now=$(date +%s)
left=$((SMTP_TEST_SHORT_CERT_NOT_AFTER_UNIX - now))
check test "$left" -gt 0 -a "$left" -lt $((7 * 86400)) -- \
  "465 certificate expires in $((left / 3600)) h (< 7 days)" "465 certificate: $left s left"
left=$((SMTP_TEST_CERT_NOT_AFTER_UNIX - now))
check test "$left" -gt $((30 * 86400)) -- \
  "25/587 certificate valid $((left / 86400)) more days" "25/587 certificate: $left s left"

# 5. Impolite clients are caught.
ttl_gap; mark; client 25 pregreet >/dev/null || true
expect_caught "25 talks before the greeting ends" "PREGREET"
ttl_gap; mark; client 25 noquit >/dev/null || true
expect_caught "25 hangs up without QUIT" "lost connection"
ttl_gap; mark; client 25 barelf >/dev/null || true
expect_caught "25 sends a bare LF" "bare <LF>"
mark; client 587 noquit >/dev/null || true
expect_caught "587 hangs up without QUIT" "lost connection"
mark; client 587 pipeline >/dev/null || true
expect_caught "587 pipelines EHLO" "improper command pipelining"
mark; client 2525 pipeline >/dev/null || true
expect_caught "2525 pipelines EHLO" "improper command pipelining"
mark; client 2525 barelf >/dev/null || true
expect_caught "2525 sends a bare LF" "bare <LF>"
mark; timeout 10 openssl s_client -connect "$H:465" </dev/null >/dev/null 2>&1 || true
expect_caught "465 plain 'openssl s_client </dev/null'" "lost connection"

echo "== $failures failure(s)"
exit $((failures > 0))
