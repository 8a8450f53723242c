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
