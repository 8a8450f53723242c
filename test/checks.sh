# shellcheck shell=bash
# checks.sh — pass/fail counting for the packaging checks (test/image,
# test/systemd, test/release). Source it; end with checks_summary NAME.

checks_passed=0
checks_failed=0
pass() { echo "ok: $*"; checks_passed=$((checks_passed + 1)); }
fail() { echo "FAIL: $*" >&2; checks_failed=$((checks_failed + 1)); }

# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

# checks_summary NAME: prints "NAME: N passed, M failed"; fails if any did.
checks_summary() {
  echo "$1: $checks_passed passed, $checks_failed failed"
  [[ $checks_failed -eq 0 ]]
}
