#!/usr/bin/env bash
# make-dev-certs.sh: creates the DEVELOPMENT-ONLY PKI used by Dossier Hub's
# local runs and tests (mutual TLS between the hub, the agencies and the
# postal core). Never use these certificates or keys in production.
#
# Usage: certs/make-dev-certs.sh [OUTPUT_DIR]     (default: certs/dev next to this script)
#   DEV_CERT_EXTRA_CLIENTS="name1 name2" adds client certificates for more partners.
#
# Idempotent: when every expected .crt/.key exists it does nothing and prints
# nothing. Without a CA (ca.crt or ca.key missing) everything is regenerated;
# otherwise only missing leaf certificates are created, signed by the existing CA.
# Needs only bash and the openssl CLI (OpenSSL 3.0).
set -euo pipefail

# Client certificates: "name|organisation (O=)". Each gets CN=name, C=VN,
# EKU clientAuth and SAN URI:urn:dossier-hub:partner:<name>.
# To add an agency, append a line here (or use DEV_CERT_EXTRA_CLIENTS).
CLIENTS=(
  "hcm-justice|Sở Tư pháp TP.HCM"
  "hcm-immigration|Phòng Quản lý xuất nhập cảnh - Công an TP.HCM"
  "hcm-social-insurance|Bảo hiểm xã hội TP.HCM"
  "hcm-ward-lgsp|Cổng tích hợp LGSP TP.HCM"
  "hcm-binh-thanh|UBND quận Bình Thạnh (cũ)"
  "hcm-transport|Sở Giao thông vận tải TP.HCM"
  "postal|Tổng công ty Bưu điện Việt Nam" # the postal core (posts status events to the hub)
)

CA_DAYS=3650
LEAF_DAYS=825
DEV_O="Dossier Hub (development only)"
PROG="make-dev-certs"

die() {
  echo "$PROG: error: $*" >&2
  exit 1
}

command -v openssl >/dev/null 2>&1 || die "the openssl command is required"

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
if [[ $# -gt 1 ]]; then
  die "usage: $0 [OUTPUT_DIR]"
fi
if [[ $# -eq 1 && -n "$1" ]]; then
  out_arg="$1"
  label="${1%/}"
else
  out_arg="$script_dir/dev"
  label="dev"
fi

# ---- the list of client certificates ---------------------------------------
client_names=()
declare -A client_org=()
add_client() {
  local name="$1" org="$2"
  [[ "$name" =~ ^[a-z0-9][a-z0-9.-]*$ ]] ||
    die "invalid client name '$name' (allowed: lower-case letters, digits, '.', '-')"
  case "$name" in
    ca | hub | postal-sim | rogue-ca | rogue-client)
      die "client name '$name' clashes with a built-in certificate" ;;
  esac
  if [[ -z "${client_org[$name]+set}" ]]; then
    client_names+=("$name")
    client_org[$name]="$org"
  fi
}
for entry in "${CLIENTS[@]}"; do
  add_client "${entry%%|*}" "${entry#*|}"
done
for name in ${DEV_CERT_EXTRA_CLIENTS:-}; do
  add_client "$name" "Development partner $name"
done

server_names=(hub postal-sim)
leaf_names=("${server_names[@]}" "${client_names[@]}")

expected_files() {
  local n
  for n in ca rogue-ca "${leaf_names[@]}" rogue-client; do
    printf '%s\n' "$out_arg/$n.crt" "$out_arg/$n.key"
  done
}

all_present() {
  local f
  while IFS= read -r f; do
    [[ -f "$f" ]] || return 1
  done < <(expected_files)
  return 0
}

# Fast path: everything exists -> nothing to do, print nothing.
if [[ -d "$out_arg" ]] && all_present; then
  exit 0
fi

mkdir -p -- "$out_arg"
out="$(cd -- "$out_arg" && pwd -P)"
umask 077 # private keys and temp files: owner only

# Serialise concurrent runs on the same directory (e.g. parallel tests).
if command -v flock >/dev/null 2>&1; then
  exec 9<"$out" # lock the directory itself: no lock file left behind
  flock 9
  if all_present; then
    exit 0
  fi
fi

tmp="$(mktemp -d "$out/.tmp.XXXXXX")"
trap 'rm -rf -- "$tmp"' EXIT

# Minimal private OpenSSL config: independent of the system openssl.cnf,
# string_mask utf8only so every DN value is a UTF8String.
cat >"$tmp/req.cnf" <<'EOF'
[req]
distinguished_name = dn
string_mask = utf8only
utf8 = yes
prompt = no
[dn]
EOF

# Runs a command silently; prints its output only if it fails.
run() {
  if ! "$@" >"$tmp/log" 2>&1; then
    echo "$PROG: command failed: $*" >&2
    cat "$tmp/log" >&2
    exit 1
  fi
}

# Escapes '/', '+', '\' for use inside an openssl -subj value.
subj_escape() {
  local v="$1"
  v="${v//\\/\\\\}"
  v="${v//\//\\/}"
  v="${v//+/\\+}"
  printf '%s' "$v"
}

random_serial() {
  local hex
  hex="$(openssl rand -hex 16)"
  # Keep the first nibble in 1..7: positive, non-zero, 16 octets when DER encoded.
  printf '0x%x%s' $(((16#${hex:0:1} % 7) + 1)) "${hex:1}"
}

new_key() { # new_key TMPFILE
  run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
}

# Moves a finished key/cert pair into place (key first, then cert) and reports it.
install_pair() { # install_pair NAME
  local n="$1"
  chmod 600 "$tmp/$n.key"
  chmod 644 "$tmp/$n.crt"
  mv -f -- "$tmp/$n.key" "$out/$n.key"
  echo "$PROG: created $label/$n.key" >&2
  mv -f -- "$tmp/$n.crt" "$out/$n.crt"
  echo "$PROG: created $label/$n.crt" >&2
}

make_ca() { # make_ca NAME SUBJECT
  local n="$1" subj="$2"
  cat "$tmp/req.cnf" - >"$tmp/$n.cnf" <<'EOF'
[v3]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
  new_key "$tmp/$n.key"
  run openssl req -new -x509 -config "$tmp/$n.cnf" -utf8 -nameopt utf8 \
    -key "$tmp/$n.key" -subj "$subj" -sha256 -days "$CA_DAYS" \
    -set_serial "$(random_serial)" -extensions v3 \
    -out "$tmp/$n.crt"
  install_pair "$n"
}

make_leaf() { # make_leaf NAME ISSUER SUBJECT EXTENSION-LINES
  local n="$1" issuer="$2" subj="$3" ext="$4"
  {
    echo "[v3]"
    echo "basicConstraints = critical, CA:false"
    echo "subjectKeyIdentifier = hash"
    echo "authorityKeyIdentifier = keyid, issuer"
    printf '%s\n' "$ext"
  } >"$tmp/$n.ext"
  new_key "$tmp/$n.key"
  run openssl req -new -config "$tmp/req.cnf" -utf8 -nameopt utf8 \
    -key "$tmp/$n.key" -subj "$subj" -out "$tmp/$n.csr"
  run openssl x509 -req -in "$tmp/$n.csr" -nameopt utf8 \
    -CA "$out/$issuer.crt" -CAkey "$out/$issuer.key" \
    -set_serial "$(random_serial)" -sha256 -days "$LEAF_DAYS" \
    -extfile "$tmp/$n.ext" -extensions v3 -out "$tmp/$n.crt"
  install_pair "$n"
}

client_subject() { # client_subject NAME ORG
  printf '/C=VN/O=%s/CN=%s' "$(subj_escape "$2")" "$1"
}

client_ext() { # client_ext NAME
  printf '%s\n' \
    "keyUsage = critical, digitalSignature" \
    "extendedKeyUsage = clientAuth" \
    "subjectAltName = URI:urn:dossier-hub:partner:$1"
}

server_ext() { # server_ext EKU
  printf '%s\n' \
    "keyUsage = critical, digitalSignature" \
    "extendedKeyUsage = $1" \
    "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1"
}

have_pair() { [[ -f "$out/$1.crt" && -f "$out/$1.key" ]]; }

# ---- development CA ---------------------------------------------------------
regen_all=0
if ! have_pair ca; then
  regen_all=1
  make_ca ca "/O=$(subj_escape "$DEV_O")/CN=Dossier Hub Dev CA"
fi
need() { [[ $regen_all -eq 1 ]] || ! have_pair "$1"; }

# ---- server certificates ----------------------------------------------------
# hub: server certificate, and also its client certificate towards the postal
# core and agency callbacks.
if need hub; then
  make_leaf hub ca "/C=VN/O=$(subj_escape "$DEV_O")/CN=hub" "$(server_ext "serverAuth, clientAuth")"
fi
# postal-sim: the postal core simulator's server certificate (it calls the hub
# with the "postal" client certificate).
if need postal-sim; then
  make_leaf postal-sim ca "/C=VN/O=$(subj_escape "$DEV_O")/CN=postal-sim" "$(server_ext "serverAuth")"
fi

# ---- client certificates ----------------------------------------------------
for name in "${client_names[@]}"; do
  if need "$name"; then
    make_leaf "$name" ca "$(client_subject "$name" "${client_org[$name]}")" "$(client_ext "$name")"
  fi
done

# ---- rogue CA + client (right name, wrong issuer: must be refused) ---------
rogue_regen=$regen_all
if [[ $rogue_regen -eq 1 ]] || ! have_pair rogue-ca; then
  rogue_regen=1
  make_ca rogue-ca "/O=Rogue CA (development only, NOT trusted by Dossier Hub)/CN=Rogue Dev CA"
fi
if [[ $rogue_regen -eq 1 ]] || ! have_pair rogue-client; then
  make_leaf rogue-client rogue-ca "$(client_subject hcm-justice "${client_org[hcm-justice]:-Sở Tư pháp TP.HCM}")" \
    "$(client_ext hcm-justice)"
fi

# ---- verification -------------------------------------------------------------
check_key_matches() { # check_key_matches NAME
  local n="$1"
  openssl x509 -in "$out/$n.crt" -noout -pubkey >"$tmp/cert.pub" 2>"$tmp/log" ||
    { cat "$tmp/log" >&2; die "$label/$n.crt is not a readable certificate"; }
  openssl pkey -in "$out/$n.key" -pubout >"$tmp/key.pub" 2>"$tmp/log" ||
    { cat "$tmp/log" >&2; die "$label/$n.key is not a readable private key"; }
  cmp -s "$tmp/cert.pub" "$tmp/key.pub" ||
    die "$label/$n.key does not match $label/$n.crt (delete both and rerun)"
}

verify_leaf() { # verify_leaf NAME CAFILE PURPOSE
  local n="$1" cafile="$2" purpose="$3"
  if ! openssl verify -CAfile "$out/$cafile.crt" -purpose "$purpose" "$out/$n.crt" >"$tmp/log" 2>&1; then
    cat "$tmp/log" >&2
    die "$label/$n.crt does not verify against $label/$cafile.crt (delete $label and rerun)"
  fi
  check_key_matches "$n"
}

check_key_matches ca
check_key_matches rogue-ca
verify_leaf hub ca sslserver
verify_leaf hub ca sslclient
verify_leaf postal-sim ca sslserver
for name in "${client_names[@]}"; do
  verify_leaf "$name" ca sslclient
done
verify_leaf rogue-client rogue-ca sslclient
if openssl verify -CAfile "$out/ca.crt" "$out/rogue-client.crt" >/dev/null 2>&1; then
  die "$label/rogue-client.crt unexpectedly verifies against the dev CA"
fi
