# shellcheck shell=bash
# lib.sh — the DNS lab's parts, shared by setup.sh, resign.sh, teardown.sh
# and selftest.sh. Source it; the caller defines die and log.
#
# Every setting is a DNSLAB_* variable; a template under test/dnslab/ names
# it {{NAME}} without the prefix. setup.sh writes them all to <dir>/env.

DNSLAB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/lib.sh
. "$DNSLAB_HERE/../lib.sh"

# dnslab_config: the settings, from the environment or their defaults, and
# what follows from them (the reverse zone, each address's PTR owner).
dnslab_config() {
  DNSLAB_DIR=${SMTP_EXPORTER_DNSLAB_DIR:-${DNSLAB_DIR:-/tmp/smtp-exporter-dnslab}}
  : "${DNSLAB_NSD_ADDR:=127.0.53.1}" "${DNSLAB_NSD_PORT:=10053}"
  : "${DNSLAB_RESOLVER_ADDR:=127.0.53.1}" "${DNSLAB_RESOLVER_PORT:=10054}"
  : "${DNSLAB_MX1_ADDR:=127.0.25.1}" "${DNSLAB_MX2_ADDR:=127.0.25.2}"
  : "${DNSLAB_DOWN_ADDR:=127.0.25.3}" "${DNSLAB_BADPTR_ADDR:=127.0.25.4}"
  : "${DNSLAB_OTHER_ADDR:=127.0.25.5}" "${DNSLAB_ALL1_ADDR:=127.0.25.6}"
  : "${DNSLAB_ALL2_ADDR:=127.0.25.7}" "${DNSLAB_MTA_STS_ADDR:=127.0.25.10}"
  : "${DNSLAB_ADDR6:=::1}"
  DNSLAB_ZONE=lab.test
  DNSLAB_DIR=${DNSLAB_DIR%/}
  dnslab_check_config
  local o1 o2 o3 name
  IFS=. read -r o1 o2 o3 _ <<<"$DNSLAB_MX1_ADDR"
  DNSLAB_REV_ZONE=$o3.$o2.$o1.in-addr.arpa
  for name in $(dnslab_host_addr_names); do
    printf -v "${name%_ADDR}_PTR" '%s' "${!name##*.}"
  done
}

# dnslab_host_addr_names: the variables holding the lab hosts' IPv4
# addresses, each with a PTR in the reverse zone.
dnslab_host_addr_names() {
  echo DNSLAB_MX1_ADDR DNSLAB_MX2_ADDR DNSLAB_DOWN_ADDR DNSLAB_BADPTR_ADDR \
    DNSLAB_OTHER_ADDR DNSLAB_ALL1_ADDR DNSLAB_ALL2_ADDR
}

# dnslab_check_config: servers on loopback and high ports; every address on
# loopback; the hosts' addresses distinct and in one /24 (the reverse zone).
dnslab_check_config() {
  local name net seen=" "
  [[ $DNSLAB_DIR == /?* ]] || die "SMTP_EXPORTER_DNSLAB_DIR must be an absolute path"
  for name in DNSLAB_NSD_ADDR DNSLAB_RESOLVER_ADDR DNSLAB_MTA_STS_ADDR $(dnslab_host_addr_names); do
    is_loopback_v4 "${!name}" || die "$name=${!name} is not an IPv4 loopback address"
  done
  [[ $DNSLAB_ADDR6 == ::1 || $DNSLAB_ADDR6 =~ ^::ffff:127\. ]] ||
    die "DNSLAB_ADDR6=$DNSLAB_ADDR6 is not an IPv6 loopback address"
  for name in DNSLAB_NSD_PORT DNSLAB_RESOLVER_PORT; do
    if ! [[ ${!name} =~ ^[0-9]+$ ]] || ((${!name} < 1024 || ${!name} > 65535)); then
      die "$name=${!name} is not a port from 1024 to 65535"
    fi
  done
  [[ "$DNSLAB_NSD_ADDR:$DNSLAB_NSD_PORT" != "$DNSLAB_RESOLVER_ADDR:$DNSLAB_RESOLVER_PORT" ]] ||
    die "nsd and unbound cannot share $DNSLAB_NSD_ADDR:$DNSLAB_NSD_PORT"
  net=${DNSLAB_MX1_ADDR%.*}
  for name in $(dnslab_host_addr_names); do
    [[ ${!name%.*} == "$net" ]] || die "$name=${!name} is outside $net.0/24, the reverse zone"
    [[ $seen != *" ${!name} "* ]] || die "$name=${!name}: every host address must differ"
    seen+="${!name} "
  done
}

is_loopback_v4() {
  [[ $1 =~ ^127\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] &&
    ((BASH_REMATCH[1] < 256 && BASH_REMATCH[2] < 256 && BASH_REMATCH[3] < 256))
}

# --- packages ----------------------------------------------------------------

# The packages the lab runs on (iproute2: ss, for selftest.sh).
DNSLAB_PACKAGE_LIST="nsd unbound ldnsutils openssl iproute2"

# dnslab_install_packages: installs what is missing with a temporary
# policy-rc.d (exit 101) so that the packages' own nsd and unbound services
# never start; removes it afterwards only if it created it.
dnslab_install_packages() {
  local packages installed created=0 rc=0
  read -r -a packages <<<"$DNSLAB_PACKAGE_LIST"
  installed=$(dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null |
    grep -c 'install ok installed' || true)
  [[ $installed -eq ${#packages[@]} ]] && return 0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    created=1
  fi
  (apt_install_missing "$DNSLAB_DIR/state" "${packages[@]}") || rc=$?
  [[ $created == 0 ]] || rm -f /usr/sbin/policy-rc.d
  return "$rc"
}

# --- templates and zones -----------------------------------------------------

# dnslab_render TEMPLATE [NAME=VALUE...]: TEMPLATE with every {{NAME}}
# replaced by DNSLAB_NAME or by the value given; an unknown name is an error.
dnslab_render() {
  local template=$1 var out args=()
  shift
  for var in $(compgen -v DNSLAB_); do args+=(-e "s|{{${var#DNSLAB_}}}|${!var}|g"); done
  for var in "$@"; do args+=(-e "s|{{${var%%=*}}}|${var#*=}|g"); done
  out=$(sed "${args[@]}" "$template")
  if grep -q '{{' <<<"$out"; then
    die "$template: no value for $(grep -o '{{[A-Za-z0-9_]*}}' <<<"$out" | sort -u | tr '\n' ' ')"
  fi
  printf '%s\n' "$out"
}

# dnslab_next_serial: a SOA serial above every one the lab used before.
dnslab_next_serial() {
  local file=$DNSLAB_DIR/state/serial last=0 now
  [[ -s $file ]] && last=$(<"$file")
  now=$(date +%s)
  ((now > last)) || now=$((last + 1))
  echo "$now" >"$file"
  echo "$now"
}

# dnslab_key DIR ZONE: the base path of ZONE's key (ECDSA P-256, flags 257:
# it signs the whole zone) in DIR, made on first use.
dnslab_key() {
  local dir=$1 zone=$2 private
  mkdir -p "$dir"
  private=$(find "$dir" -maxdepth 1 -name "K$zone.+*.private" | head -n 1)
  if [[ -z $private ]]; then
    (cd "$dir" && ldns-keygen -a ECDSAP256SHA256 -k "$zone" >/dev/null) ||
      die "ldns-keygen failed for $zone"
    private=$(find "$dir" -maxdepth 1 -name "K$zone.+*.private" | head -n 1)
  fi
  echo "${private%.private}"
}

# dnslab_zone_text ZONE: ZONE's records before signing: its template, then
# the replaceable records of <dir>/records/ZONE.records.
dnslab_zone_text() {
  local zone=$1 serial
  serial=$(dnslab_next_serial)
  case $zone in
  "$DNSLAB_ZONE")
    dnslab_render "$DNSLAB_HERE/zones/lab.test.zone.in" "SERIAL=$serial"
    echo "; DS records of the signed children"
    cat "$(dnslab_key "$DNSLAB_DIR/keys/bogus.unused" "bogus.$DNSLAB_ZONE").ds"
    cat "$(dnslab_key "$DNSLAB_DIR/keys/expired" "expired.$DNSLAB_ZONE").ds"
    ;;
  "$DNSLAB_REV_ZONE") dnslab_render "$DNSLAB_HERE/zones/reverse.zone.in" "SERIAL=$serial" ;;
  *) dnslab_render "$DNSLAB_HERE/zones/child.zone.in" "SERIAL=$serial" "CHILD=$zone" ;;
  esac
  if [[ -s $DNSLAB_DIR/records/$zone.records ]]; then
    printf '; replaceable records (resign.sh)\n%s %s.\n' "\$ORIGIN" "$zone"
    cat "$DNSLAB_DIR/records/$zone.records"
  fi
}

# dnslab_zones: every zone the lab serves.
dnslab_zones() {
  echo "$DNSLAB_ZONE insecure.$DNSLAB_ZONE bogus.$DNSLAB_ZONE expired.$DNSLAB_ZONE $DNSLAB_REV_ZONE"
}

# dnslab_publish ZONE: writes ZONE's file for nsd, signed as the zone's case
# demands, and checks it with nsd-checkzone.
dnslab_publish() {
  local zone=$1 src=$DNSLAB_DIR/zones/$1.zone out inception
  mkdir -p "$DNSLAB_DIR/zones"
  dnslab_zone_text "$zone" >"$src"
  inception=$(date -u -d '-1 hour' +%Y%m%d%H%M%S)
  case $zone in
  "$DNSLAB_ZONE" | "bogus.$DNSLAB_ZONE")
    out=${src%.zone}.signed
    dnslab_sign "$src" "$out" "$zone" "$zone" -i "$inception"
    ;;
  "expired.$DNSLAB_ZONE")
    # Expired ten days ago: beyond unbound's clock-skew allowance (one day).
    out=${src%.zone}.signed
    dnslab_sign "$src" "$out" expired "$zone" \
      -i "$(date -u -d '-40 days' +%Y%m%d%H%M%S)" -e "$(date -u -d '-10 days' +%Y%m%d%H%M%S)"
    ;;
  *) out=$src ;;
  esac
  nsd-checkzone "$zone" "$out" >/dev/null || die "nsd-checkzone $zone $out failed"
}

# dnslab_sign SRC OUT KEYDIR ZONE LDNS-SIGNZONE-OPTION...: OUT is SRC signed
# with the key in <dir>/keys/KEYDIR.
dnslab_sign() {
  local src=$1 out=$2 key
  key=$(dnslab_key "$DNSLAB_DIR/keys/$3" "$4")
  shift 4
  ldns-signzone "$@" -f "$out" "$src" "$key" || die "ldns-signzone failed for $src"
}

# dnslab_trust_anchor: the resolver's trust anchor, lab.test.'s DS record.
dnslab_trust_anchor() {
  cp "$(dnslab_key "$DNSLAB_DIR/keys/$DNSLAB_ZONE" "$DNSLAB_ZONE").ds" "$DNSLAB_DIR/keys/trust-anchor.ds"
}

# --- processes ---------------------------------------------------------------

# dnslab_pid NAME: the PID that the lab's NAME (nsd or unbound) recorded,
# if that process runs and is NAME.
dnslab_pid() {
  local pidfile=$DNSLAB_DIR/run/$1.pid pid
  [[ -s $pidfile ]] || return 1
  pid=$(tr -d ' \n' <"$pidfile")
  # nsd names its processes "nsd: main", "nsd: xfrd", ...
  [[ $pid =~ ^[0-9]+$ ]] && process_alive "$pid" &&
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) =~ ^$1(:|$) ]] || return 1
  echo "$pid"
}

# process_alive PID: PID runs; a zombie whose parent does not reap it (a
# container's init may not) has ended.
process_alive() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# dnslab_stop NAME: ends the lab's NAME by the PID it recorded, and only it.
dnslab_stop() {
  local pid
  pid=$(dnslab_pid "$1") || { rm -f "$DNSLAB_DIR/run/$1.pid"; return 0; }
  log "stopping $1 ($pid)"
  kill "$pid"
  for _ in $(seq 50); do process_alive "$pid" || break; sleep 0.1; done
  if process_alive "$pid"; then
    log "$1 ($pid) did not stop; sending KILL"
    kill -KILL "$pid"
  fi
  rm -f "$DNSLAB_DIR/run/$1.pid"
}

# dnslab_reload NAME: NAME re-reads its zones (nsd) or its configuration and
# drops its cache (unbound).
dnslab_reload() {
  local pid
  pid=$(dnslab_pid "$1") || die "$1 is not running; run setup.sh"
  kill -HUP "$pid"
}

# dnslab_serial ADDR PORT ZONE: the SOA serial ZONE has at ADDR:PORT. The
# query sets CD: a resolver answers even for the zones that fail validation.
dnslab_serial() {
  drill -o CD -p "$2" "@$1" "$3" SOA 2>/dev/null |
    awk '$4 == "SOA" && !/^;/ { print $7; exit }'
}

# dnslab_wait_serial ADDR PORT ZONE SERIAL WHO: waits up to 5 s until ZONE
# answers with at least SERIAL at ADDR:PORT.
dnslab_wait_serial() {
  local got
  for _ in $(seq 50); do
    got=$(dnslab_serial "$1" "$2" "$3")
    [[ -n $got ]] && ((got >= $4)) && return 0
    sleep 0.1
  done
  tail -n 20 "$DNSLAB_DIR/log/$5.log" >&2 || true
  die "$5 on $1:$2 does not serve $3 with serial $4 (got '${got:-nothing}')"
}

# dnslab_wait_zones WHO ADDR PORT: every zone's current serial is served.
dnslab_wait_zones() {
  local zone
  for zone in $(dnslab_zones); do
    dnslab_wait_serial "$2" "$3" "$zone" "$(dnslab_file_serial "$zone")" "$1"
  done
}

# dnslab_check_secure: the resolver validates lab.test.: its SOA carries AD.
dnslab_check_secure() {
  drill -D -p "$DNSLAB_RESOLVER_PORT" "@$DNSLAB_RESOLVER_ADDR" "$DNSLAB_ZONE" SOA |
    grep -q '^;; flags:.* ad[ ;]' ||
    die "unbound does not validate $DNSLAB_ZONE with the trust anchor (see $DNSLAB_DIR/log/unbound.log)"
}

# dnslab_file_serial ZONE: the serial of ZONE's published file.
dnslab_file_serial() {
  awk '$2 == "SOA" && !/^;/ { print $5; exit }' "$DNSLAB_DIR/zones/$1.zone"
}

# --- the environment other scripts read -----------------------------------------

# dnslab_names: the names and paths other scripts use, as DNSLAB_* variables.
# shellcheck disable=SC2034 # dnslab_write_env writes them all
dnslab_names() {
  local z=$DNSLAB_ZONE
  DNSLAB_RESOLVER=$DNSLAB_RESOLVER_ADDR:$DNSLAB_RESOLVER_PORT
  DNSLAB_AUTH=$DNSLAB_NSD_ADDR:$DNSLAB_NSD_PORT
  DNSLAB_MX_DOMAIN=mx3.$z DNSLAB_MXTIE_DOMAIN=mxtie.$z
  DNSLAB_NULLMX_DOMAIN=nullmx.$z DNSLAB_NULLMIXED_DOMAIN=nullmixed.$z
  DNSLAB_IMPLICIT_DOMAIN=implicit.$z DNSLAB_MXCNAME_DOMAIN=mxcname.$z
  DNSLAB_MXIP_DOMAIN=mxip.$z DNSLAB_MXLOCAL_DOMAIN=mxlocal.$z
  DNSLAB_MXNOADDR_DOMAIN=mxnoaddr.$z DNSLAB_MXNXHOST_DOMAIN=mxnxhost.$z
  DNSLAB_MXBADPTR_DOMAIN=mxbadptr.$z DNSLAB_NX_DOMAIN=nx.$z
  DNSLAB_INSECURE_DOMAIN=insecure.$z DNSLAB_BOGUS_DOMAIN=bogus.$z
  DNSLAB_EXPIRED_DOMAIN=expired.$z
  DNSLAB_MX1_HOST=mx1.$z DNSLAB_MX2_HOST=mx2.$z DNSLAB_DOWN_HOST=mxdown.$z
  DNSLAB_BADPTR_HOST=badptr.$z DNSLAB_OTHER_HOST=other.$z DNSLAB_ALL_HOST=all.$z
  DNSLAB_MTA_STS_HOST=mta-sts.mx3.$z
  DNSLAB_TRUST_ANCHOR=$DNSLAB_DIR/keys/trust-anchor.ds
  DNSLAB_ZONE_KEY=$(dnslab_key "$DNSLAB_DIR/keys/$z" "$z")
  DNSLAB_UNBOUND_CONF=$DNSLAB_DIR/unbound.conf DNSLAB_NSD_CONF=$DNSLAB_DIR/nsd.conf
  DNSLAB_UNBOUND_LOG=$DNSLAB_DIR/log/unbound.log DNSLAB_NSD_LOG=$DNSLAB_DIR/log/nsd.log
}

# dnslab_write_env: <dir>/env, every DNSLAB_* setting and name, to source.
dnslab_write_env() {
  local var
  {
    echo "# The DNS lab's settings (test/dnslab/setup.sh); source this file."
    for var in $(compgen -v DNSLAB_); do
      [[ $var == DNSLAB_HERE || $var == DNSLAB_PACKAGE_LIST ]] && continue
      printf 'export %s=%q\n' "$var" "${!var}"
    done
  } >"$DNSLAB_DIR/env"
}

# dnslab_load_env: the settings setup.sh wrote, for the scripts after it.
dnslab_load_env() {
  local env=${SMTP_EXPORTER_DNSLAB_DIR:-/tmp/smtp-exporter-dnslab}/env
  [[ -r $env ]] || die "$env not found: run test/dnslab/setup.sh first"
  # shellcheck source=/dev/null
  . "$env"
  dnslab_config
}
