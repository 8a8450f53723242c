#!/usr/bin/env bash
# capacity.sh — how many probes one exporter core sustains and how much
# memory a probe in flight holds, for host targets and for MX domains, and
# how many SMTP sessions an HA pair makes per target per interval with
# share_window on and off; then the sizing table of docs/benchmarks.md.
# Not part of CI; no root needed; about three minutes.
#
# Usage: bench/capacity.sh [extra flags of `floor capacity`]
#   e.g. bench/capacity.sh -rates 50,100,200 -step 5s
#
# It builds smtp_exporter and bench/floor from this checkout into a temp
# dir, and runs `floor capacity`, which starts on 127.0.0.1, on ports the
# kernel picks: a minimal MTA (greeting, EHLO, STARTTLS with an ECDSA
# P-256 certificate, EHLO, QUIT), a tarpit that never greets, and a DNS
# server for bench.test (every name 127.0.0.1; d<N>.bench.test has the MX
# mx<N>.bench.test). Against a fresh exporter each time it:
#   1. offers probes open loop at each rate of -rates (50,100,200,400,800
#      a second, -step 8s each), every probe a target of its own, for
#      module host (target h<N>.bench.test) and module mx (target
#      d<N>.bench.test: MX lookup, then the session), with Prometheus's
#      headers (10 s scrape timeout: budget 9.5 s); charges the exporter
#      process's utime+stime to the probes; a rate is held when every
#      probe succeeds, p99 is within the budget + 250 ms, the load
#      generator really sent the rate (within 5 %) and the last answer
#      comes within a second of the step's end; it stops at the first rate
#      not held;
#   2. holds 250, then 600 probes in flight against the tarpit (module
#      budget 10 s) and reads VmRSS and the Go heap while all wait (600:
#      an MX probe with max_hosts 10 reserves 31 probe sockets, so with a
#      descriptor limit of 20,000 the exporter admits ~610 at once);
#   3. plays an HA pair: two scrapers, each scraping 40 targets every 2 s
#      at offsets of their own, 10 intervals, against a module with
#      share_window 1s and one without, counting the MTA's sessions;
#   4. prints the tables and the sizing for 1,000, 10,000 and 100,000
#      targets a minute. The MTA, DNS server and load generator share the
#      machine's CPUs with the exporter: CPU per probe, not the highest
#      rate, is the figure to size with.
# CAPACITY_OUT=FILE appends the JSON records to FILE.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
command -v go >/dev/null || { echo "capacity.sh: go is not on PATH" >&2; exit 1; }
bin=$(mktemp -d /tmp/smtp-exporter-capacity-bin.XXXXXX)
trap 'rm -rf "$bin"' EXIT
(cd "$repo" && go build -o "$bin/smtp_exporter" . && go build -o "$bin/floor" ./bench/floor)
echo "capacity.sh: $(nproc) CPUs, $(go version | cut -d' ' -f3), load average $(cut -d' ' -f1-3 /proc/loadavg), commit $(git -C "$repo" rev-parse --short HEAD)"
"$bin/floor" capacity -exporter-bin "$bin/smtp_exporter" -rates 50,100,200,400,800 -step 8s \
  -inflight 250,600 -ha-targets 40 -ha-interval 2s -ha-intervals 10 -clktck "$(getconf CLK_TCK)" \
  -out "${CAPACITY_OUT:-}" "$@" | grep --line-buffered -v '^{'
