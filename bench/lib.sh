# shellcheck shell=bash
# lib.sh — what bench/run.sh and bench/compare.sh share. Source it after
# test/lib.sh; the caller defines log and die and sets REPO, BENCH_DIR,
# BENCH_HOST and CONCURRENCY.

# bench_preflight: the scripts run as root (apt-get, Postfix) in an
# absolute BENCH_DIR, which bench_cleanup removes.
bench_preflight() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (apt-get, Postfix)"
  [[ $BENCH_DIR == /* && $BENCH_DIR != / ]] || die "BENCH_DIR must be an absolute path"
}

# bench_pick_host: turns BENCH_HOST=auto into 127.0.0.1, or 127.0.0.2 when
# something (test/postfix's Postfix, say) holds 127.0.0.1:25, 465 or 587.
bench_pick_host() {
  [[ $BENCH_HOST == auto ]] || return 0
  BENCH_HOST=127.0.0.1
  if tcp_listening 127.0.0.1 25 || tcp_listening 127.0.0.1 465 || tcp_listening 127.0.0.1 587; then
    BENCH_HOST=127.0.0.2
    log "127.0.0.1:25/465/587 is taken (another Postfix?): the bench Postfix uses $BENCH_HOST"
  fi
}

# PIDS are the processes bench_cleanup stops.
PIDS=()

# bench_cleanup: the EXIT trap. Stops PIDS and the bench Postfix, and
# removes BENCH_DIR unless KEEP=1.
bench_cleanup() {
  local rc=$? pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -f $BENCH_DIR/postfix/etc/main.cf ]]; then
    postfix -c "$BENCH_DIR/postfix/etc" stop >/dev/null 2>&1 || true
  fi
  if [[ ${KEEP:-0} == 1 ]]; then
    log "kept $BENCH_DIR"
  else
    rm -rf "$BENCH_DIR"
  fi
  exit "$rc"
}

# bench_start_postfix: starts bench/postfix-setup.sh's Postfix on
# BENCH_HOST and sources its env (BENCH_CA_FILE, BENCH_POSTFIX_VERSION …).
bench_start_postfix() {
  BENCH_DIR="$BENCH_DIR" BENCH_HOST="$BENCH_HOST" BENCH_PROCESSES=$((CONCURRENCY * 3 + 50)) \
    "$REPO/bench/postfix-setup.sh"
  # shellcheck disable=SC1091
  . "$BENCH_DIR/postfix/env"
}

# bench_module_starttls25: prints the module both scripts measure: port 25
# with STARTTLS, verified against the bench CA.
bench_module_starttls25() {
  cat <<EOM
  starttls25:
    timeout: 10s
    ehlo_hostname: bench.example.net
    ip_protocol: ip4
    ports:
      - {port: 25, tls: starttls}
    tls_config: {ca_file: $BENCH_CA_FILE}
    expect: {verify_certificate: true}
EOM
}

# bench_wait_ready NAME URL LOG: waits until URL answers 200, else dies
# showing LOG. FLOOR is the bench/floor binary.
bench_wait_ready() {
  "$FLOOR" get -q -url "$2" -wait 10s || die "$1 did not start: $(cat "$3")"
}
