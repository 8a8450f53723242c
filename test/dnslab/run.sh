#!/usr/bin/env bash
# run.sh — the DNS lab from scratch: setup.sh, selftest.sh, teardown.sh,
# with the time each step took. CI (.ci/run) and `make dnslab` run it.
#
# Usage (as root, Debian): test/dnslab/run.sh
# Environment: as setup.sh; KEEP_DNSLAB=1 leaves the lab running and its
# work dir in place.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
log() { printf 'dnslab run: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=test/lib.sh
. "$here/../lib.sh"
# Packages first: the lab's network namespace has no route out.
"$here/setup.sh" --packages-only
in_test_netns "$@"

cleanup() { [[ ${KEEP_DNSLAB:-0} == 1 ]] || "$here/teardown.sh"; }
trap cleanup EXIT

# timed NAME COMMAND...: runs COMMAND and reports how long it took.
timed() {
  local name=$1 start=$EPOCHREALTIME rc=0
  shift
  "$@" || rc=$?
  awk -v s="$start" -v e="$EPOCHREALTIME" -v n="$name" 'BEGIN { printf "dnslab: %s took %.1f s\n", n, e - s }' >&2
  return "$rc"
}

timed setup "$here/setup.sh"
timed selftest "$here/selftest.sh"
