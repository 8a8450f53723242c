# shellcheck shell=bash
# lib.sh — helpers shared by test/postfix/setup.sh, bench/postfix-setup.sh,
# bench/run.sh and bench/compare.sh. Source it; the caller defines die and
# log.

# apt_install_missing STATE_DIR PKG...: installs the packages that are not
# installed yet, non-interactively, without letting postfix configure or
# start a system instance. Refuses to replace another MTA (exim4) unless
# ALLOW_MTA_REPLACEMENT=1. With a STATE_DIR, records what it installed and
# removed there, for a teardown to undo.
apt_install_missing() {
  local state=$1 missing=() p removals
  shift
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  log "installing: ${missing[*]}"
  echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  removals=$(apt-get -s install --no-install-recommends "${missing[@]}" | awk '/^Remv /{print $2}')
  if [[ -n $removals && ${ALLOW_MTA_REPLACEMENT:-0} != 1 ]]; then
    die "installing ${missing[*]} would remove: $(echo "$removals" | tr '\n' ' ')- set ALLOW_MTA_REPLACEMENT=1 to allow"
  fi
  if [[ -n $state ]]; then
    mkdir -p "$state"
    [[ -n $removals ]] && printf '%s\n' "$removals" >>"$state/removed_packages"
  fi
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [[ -z $state ]] || printf '%s\n' "${missing[@]}" >>"$state/installed_packages"
}

# tcp_listening ADDR PORT: something listens on the IPv4 address ADDR, or
# on the wildcard address, at PORT. Reads /proc/net/tcp{,6} rather than
# connecting: a connect would itself leave a "lost connection" line in a
# mail server's log.
tcp_listening() {
  local port hex o1 o2 o3 o4 f files=()
  port=$(printf '%04X' "$2")
  IFS=. read -r o1 o2 o3 o4 <<<"$1"
  hex=$(printf '%02X%02X%02X%02X' "$o4" "$o3" "$o2" "$o1")
  for f in /proc/net/tcp /proc/net/tcp6; do [[ -r $f ]] && files+=("$f"); done
  # field 2 = local address:port, field 4 = state (0A = LISTEN)
  awk -v p=":$port" -v v4="$hex" -v v6="0000000000000000FFFF0000$hex" '
    $4 == "0A" && substr($2, length($2) - 4) == p {
      a = substr($2, 1, length($2) - 5)
      if (a ~ /^0+$/ || a == v4 || a == v6) found = 1
    } END { exit !found }' "${files[@]}"
}

# make_ca DIR CN DAYS: a private CA (RSA-2048) in DIR/ca.{key,crt}.
make_ca() {
  local dir=$1 ext
  ext=$(mktemp)
  printf '%s\n' 'basicConstraints = critical, CA:TRUE, pathlen:0' \
    'keyUsage = critical, keyCertSign, cRLSign' 'subjectKeyIdentifier = hash' >"$ext"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$dir/ca.key" \
    -subj "/CN=$2" -out "$dir/ca.csr" 2>/dev/null
  openssl x509 -req -in "$dir/ca.csr" -signkey "$dir/ca.key" -days "$3" -sha256 \
    -set_serial "0x$(openssl rand -hex 16)" -extfile "$ext" -out "$dir/ca.crt" 2>/dev/null
  rm -f "$ext" "$dir/ca.csr"
  chmod 0600 "$dir/ca.key"
}

# issue_cert DIR NAME SUBJECT DAYS SAN: a server certificate (RSA-2048) for
# SAN ("DNS:localhost, IP:127.0.0.1") signed by DIR's CA, in
# DIR/NAME.{key,crt}.
issue_cert() {
  local dir=$1 name=$2 ext
  ext=$(mktemp)
  printf '%s\n' 'basicConstraints = critical, CA:FALSE' \
    'keyUsage = critical, digitalSignature, keyEncipherment' 'extendedKeyUsage = serverAuth' \
    "subjectAltName = $5" 'subjectKeyIdentifier = hash' 'authorityKeyIdentifier = keyid' >"$ext"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$dir/$name.key" \
    -subj "$3" -out "$dir/$name.csr" 2>/dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$4" -sha256 -extfile "$ext" \
    -out "$dir/$name.crt" 2>/dev/null
  rm -f "$ext" "$dir/$name.csr"
  chmod 0600 "$dir/$name.key"
}

# --- a private Postfix instance (`postfix -c DIR`) ----------------------------
# test/postfix/setup.sh and bench/postfix-setup.sh each run one, configured
# for their own purpose; these are the parts they have in common.

# postfix_stop_instance CONF: stops the instance of CONF if it runs.
postfix_stop_instance() {
  postfix_instance_running "$1" || return 0
  log "stopping the running instance of $1 for a fresh start"
  postfix -c "$1" stop >/dev/null 2>&1 || true
  for _ in $(seq 50); do postfix_instance_running "$1" || return 0; sleep 0.1; done
}

postfix_instance_running() {
  [[ -f $1/main.cf ]] && postfix -c "$1" status >/dev/null 2>&1
}

# postfix_instance_main_cf SPOOL DATA: the main.cf lines every private
# instance starts with: its own queue and data directories, no local
# delivery, no relaying, no aliases.
postfix_instance_main_cf() {
  cat <<EOM
compatibility_level = 3.6
queue_directory = $1
data_directory = $2
mail_owner = postfix
setgid_group = postdrop
myhostname = localhost
mydomain = localdomain
mydestination =
relay_domains =
relayhost =
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtputf8_enable = no
EOM
}

# postfix_internal_services: the master.cf lines of Postfix's own daemons,
# to follow the instance's listening services.
postfix_internal_services() {
  cat <<'EOM'
tlsproxy          unix  -       -       n       -       0       tlsproxy
dnsblog           unix  -       -       n       -       0       dnsblog
pickup            unix  n       -       n       60      1       pickup
cleanup           unix  n       -       n       -       0       cleanup
qmgr              unix  n       -       n       300     1       qmgr
tlsmgr            unix  -       -       n       1000?   1       tlsmgr
rewrite           unix  -       -       n       -       -       trivial-rewrite
bounce            unix  -       -       n       -       0       bounce
defer             unix  -       -       n       -       0       bounce
trace             unix  -       -       n       -       0       bounce
verify            unix  -       -       n       -       1       verify
flush             unix  n       -       n       1000?   0       flush
proxymap          unix  -       -       n       -       -       proxymap
proxywrite        unix  -       -       n       -       1       proxymap
smtp              unix  -       -       n       -       -       smtp
relay             unix  -       -       n       -       -       smtp
showq             unix  n       -       n       -       -       showq
error             unix  -       -       n       -       -       error
retry             unix  -       -       n       -       -       error
discard           unix  -       -       n       -       -       discard
local             unix  -       n       n       -       -       local
virtual           unix  -       n       n       -       -       virtual
lmtp              unix  -       -       n       -       -       lmtp
anvil             unix  -       -       n       -       1       anvil
scache            unix  -       -       n       -       1       scache
postlog           unix-dgram n  -       n       -       1       postlogd
EOM
}

# postfix_start CONF MAILLOG HOST PORT...: starts the instance of CONF with
# a fresh log (the previous one kept as MAILLOG.old: it would confuse log
# checks), refusing parameters this Postfix does not know (postconf warns
# "unused parameter"), and waits until it listens on HOST at every PORT.
postfix_start() {
  local conf=$1 maillog=$2 host=$3 unknown p
  shift 3
  [[ -f $maillog ]] && mv -f "$maillog" "$maillog.old"
  : >"$maillog"
  unknown=$(postconf -c "$conf" -n 2>&1 >/dev/null | grep -i 'unused parameter' || true)
  [[ -z $unknown ]] || die "this Postfix does not know: $unknown"
  postfix -c "$conf" check 2>&1 | grep -v '^$' >&2 || true
  postfix -c "$conf" start >/dev/null 2>&1 || {
    tail -n 20 "$maillog" >&2
    die "postfix -c $conf start failed"
  }
  for p in "$@"; do
    for _ in $(seq 50); do tcp_listening "$host" "$p" && break; sleep 0.1; done
    tcp_listening "$host" "$p" || die "Postfix is not listening on $host:$p (see $maillog)"
  done
}

# --- the test network namespace ----------------------------------------------
# The test environments (test/postfix, test/dnslab, test/e2e, bench/) run in
# one network namespace of their own, smtp-exporter-test, which has nothing
# but a loopback interface: its 127.0.0.1:25 is free whatever the machine
# runs, and no mail server, resolver or other service of the machine is
# seen, stopped or reconfigured. The namespace has no route out: install
# packages before entering it. SMTP_EXPORTER_NETNS_NAME names another
# namespace, for two checkouts testing on one machine at once.

# SMTP_EXPORTER_NETNS_NAME in the environment names another namespace, so
# that two runs on one machine (their test Postfix on the same fixed ports)
# do not meet.
SMTP_EXPORTER_NETNS_NAME=${SMTP_EXPORTER_NETNS_NAME:-smtp-exporter-test}

# test_netns_exists: the namespace is there.
test_netns_exists() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$SMTP_EXPORTER_NETNS_NAME"
}

# in_test_netns ARGS...: re-executes the calling script ($TEST_NETNS_SCRIPT,
# else $0: give the path when the script changed directory) with ARGS in the
# test namespace, creating it (loopback up) when it is missing, and exits
# with the script's status. Inside the namespace (SMTP_EXPORTER_NETNS=1) it
# returns at once. Afterwards the namespace is deleted unless a process
# still runs in it (a Postfix kept with KEEP_POSTFIX=1, another script).
in_test_netns() {
  [[ ${SMTP_EXPORTER_NETNS:-0} == 1 ]] && return 0
  local rc=0
  command -v ip >/dev/null || die "ip (iproute2) is needed for the test network namespace"
  if ! test_netns_exists; then
    ip netns add "$SMTP_EXPORTER_NETNS_NAME" 2>/dev/null || test_netns_exists ||
      die "cannot create the network namespace $SMTP_EXPORTER_NETNS_NAME"
  fi
  ip -n "$SMTP_EXPORTER_NETNS_NAME" link set lo up
  ip netns exec "$SMTP_EXPORTER_NETNS_NAME" env SMTP_EXPORTER_NETNS=1 bash "${TEST_NETNS_SCRIPT:-$0}" "$@" || rc=$?
  test_netns_release
  exit "$rc"
}

# test_netns_release: deletes the test namespace when no process runs in
# it. Inside the namespace it does nothing: the script that entered it
# releases it on its way out.
test_netns_release() {
  [[ ${SMTP_EXPORTER_NETNS:-0} == 1 ]] && return 0
  test_netns_exists || return 0
  if [[ -n $(ip netns pids "$SMTP_EXPORTER_NETNS_NAME" 2>/dev/null) ]]; then
    log "keeping the network namespace $SMTP_EXPORTER_NETNS_NAME: processes still run in it"
    return 0
  fi
  ip netns delete "$SMTP_EXPORTER_NETNS_NAME"
}
