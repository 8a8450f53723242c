#!/usr/bin/env bash
# logcheck.sh — fail when a Postfix maillog shows an impolite SMTP client.
#
# Usage:
#   test/postfix/logcheck.sh MAILLOG [SINCE_LINE]
#
#   MAILLOG     the log written by setup.sh ($SMTP_TEST_MAILLOG)
#   SINCE_LINE  first line to check (1-based, inclusive; default 1). Take it
#               before the session under test:
#                 since=$(( $(wc -l < "$SMTP_TEST_MAILLOG") + 1 ))
#
# Environment:
#   LOGCHECK_WAIT_DISCONNECTS=N  first wait (up to LOGCHECK_WAIT_SECONDS,
#                                default 5) until N "disconnect from" lines
#                                are in range: postlogd writes asynchronously.
#   LOGCHECK_FAIL_ON_REJECTED=1  also fail when a disconnect summary shows a
#                                rejected command ("ehlo=0/1", "auth=0/1").
#
# Exit status 1, offending lines printed, when the range contains any of:
# PREGREET, HANGUP, COMMAND PIPELINING, NON-SMTP COMMAND, BARE NEWLINE
# (postscreen), "improper command pipelining", "lost connection",
# "bare <LF>", "bare newline", "timeout after", "too many errors",
# "SSL_accept error", "TLS library problem", "COMMAND ... LIMIT".
# Always prints how many "disconnect from" lines there are and their
# command summaries (e.g. "ehlo=2 starttls=1 quit=1 commands=4"), per service.
# Exit status 2 on usage errors.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
log=$1
since=${2:-1}
[[ -r $log ]] || { echo "logcheck: cannot read $log" >&2; exit 2; }
[[ $since =~ ^[1-9][0-9]*$ ]] || { echo "logcheck: SINCE_LINE must be a positive integer" >&2; exit 2; }

# One extended regex, matched case-insensitively.
bad='PREGREET|HANGUP|COMMAND PIPELINING|NON-SMTP COMMAND|BARE NEWLINE'
bad+='|improper command pipelining|lost connection|bare <LF>|bare newline'
bad+='|timeout after|too many errors|SSL_accept error|TLS library problem'
bad+='|COMMAND (TIME|COUNT|LENGTH) LIMIT'

range() { tail -n "+$since" "$log"; }
disconnects() { range | grep -E ' disconnect from ' || true; }

want=${LOGCHECK_WAIT_DISCONNECTS:-0}
if [[ $want -gt 0 ]]; then
  deadline=$((SECONDS + ${LOGCHECK_WAIT_SECONDS:-5}))
  while [[ $(disconnects | wc -l) -lt $want && $SECONDS -lt $deadline ]]; do
    sleep 0.2
  done
fi

total=$(range | wc -l)
offending=$(range | grep -inE "$bad" || true)
status=0
if [[ -n $offending ]]; then
  echo "logcheck: $(wc -l <<<"$offending") offending line(s) in $log from line $since:"
  # grep -n numbered the lines of the range; show real line numbers.
  while IFS= read -r l; do
    printf '  %d: %s\n' $((${l%%:*} + since - 1)) "${l#*:}"
  done <<<"$offending"
  status=1
fi

d=$(disconnects)
n=0
[[ -n $d ]] && n=$(wc -l <<<"$d")
echo "logcheck: $n disconnect line(s) in $total line(s) checked:"
if [[ -n $d ]]; then
  # "... postfix/submission/smtpd[123]: disconnect from host[ip] ehlo=2 ..."
  # -> "postfix/submission/smtpd: ehlo=2 ...", counted.
  sed -E 's/^.* ([^ ]+)\[[0-9]+\]: disconnect from [^ ]+ ?(.*)$/\1: \2/' <<<"$d" |
    sort | uniq -c | sed 's/^/  /'
  if [[ ${LOGCHECK_FAIL_ON_REJECTED:-0} == 1 ]] && grep -qE '=[0-9]+/[0-9]+' <<<"$d"; then
    echo "logcheck: some commands were rejected (x/y counts above)"
    status=1
  fi
fi
if [[ $status -eq 0 ]]; then echo "logcheck: OK"; fi
exit "$status"
