#!/usr/bin/env bash
# A small CA for dnsguard fleets, with openssl. Keys are P-256 EC, unencrypted, mode 0600.
#   make-certs.sh DIR ca                        DIR/ca.crt, DIR/ca.key (10 years)
#   make-certs.sh DIR agent NAME SAN[,SAN...]   an agent's server certificate, e.g.
#                                               agent web1 DNS:web1.example.org,IP:192.0.2.21
#   make-certs.sh DIR client NAME               a client certificate; NAME is its identity
#                                               (CN and DNS SAN) for --admin-identity
# Certificates other than the CA's are valid for DAYS (default 397) days.
set -euo pipefail
dir=$1 kind=$2
days=${DAYS:-397}
mkdir -p "$dir"
umask 077
issue() {  # issue NAME CN SAN EKU
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/$1.key" \
    -out "$dir/$1.csr" -subj "/CN=$2" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n' \
    "$3" "$4" >"$dir/$1.ext"
  openssl x509 -req -in "$dir/$1.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days "$days" -sha256 -extfile "$dir/$1.ext" -out "$dir/$1.crt" 2>/dev/null
  rm -f "$dir/$1.csr" "$dir/$1.ext"
  chmod 0644 "$dir/$1.crt"
  echo "$dir/$1.crt ($2, $3)"
}
case $kind in
  ca)
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/ca.key" \
      -out "$dir/ca.crt" -days 3650 -sha256 -subj "/CN=${3:-dnsguard fleet CA}" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    chmod 0644 "$dir/ca.crt"
    echo "$dir/ca.crt"
    ;;
  agent) issue "$3" "$3" "$4" serverAuth ;;
  client) issue "$3" "$3" "DNS:$3" clientAuth ;;
  *)
    echo "usage: make-certs.sh DIR ca | agent NAME SAN[,SAN...] | client NAME" >&2
    exit 1
    ;;
esac
