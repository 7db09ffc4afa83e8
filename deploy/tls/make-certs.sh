#!/usr/bin/env bash
# Makes a local CA and the certificates a stowage cluster needs, with openssl:
#   ca.pem, ca-key.pem          the CA (keep ca-key.pem away from the nodes)
#   NAME.pem, NAME-key.pem      one per node: serves HTTPS and the RPC port, and calls peers; it
#                               names server.global.stowage (what peers check), localhost,
#                               127.0.0.1 and NAME (a compose service name, a host name)
#   cli.pem, cli-key.pem        a client certificate, for servers that verify HTTPS clients
# An existing CA in DIR is reused, so more nodes can be added later.
#
# usage: deploy/tls/make-certs.sh DIR [NAME...]      (names default to node1 node2 node3)
#   stowage dev --tls-dir DIR                        the dev cluster over TLS
#   NOMAD_ADDR=https://127.0.0.1:4646 NOMAD_CACERT=DIR/ca.pem \
#   NOMAD_CLIENT_CERT=DIR/cli.pem NOMAD_CLIENT_KEY=DIR/cli-key.pem stowage volume status
set -euo pipefail

dir=${1:?usage: make-certs.sh DIR [NAME...]}
shift
names=("$@")
((${#names[@]} > 0)) || names=(node1 node2 node3)
command -v openssl >/dev/null || { echo "make-certs: openssl is needed" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [[ ! -f ca.pem ]]; then
    key ca-key.pem
    openssl req -x509 -new -key ca-key.pem -sha256 -days 3650 -subj "/CN=stowage local CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem
fi

# issue NAME SUBJECT-ALT-NAMES EXTENDED-KEY-USAGE
issue() {
    local name=$1 san=$2 eku=$3
    key "$name-key.pem"
    openssl req -new -key "$name-key.pem" -subj "/CN=$name" -out "$name.csr"
    printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' \
        "$san" "$eku" >"$name.ext"
    openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 825 \
        -sha256 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
}

for n in "${names[@]}"; do
    issue "$n" "DNS:server.global.stowage,DNS:localhost,DNS:$n,IP:127.0.0.1" "serverAuth,clientAuth"
done
issue cli "DNS:cli.global.stowage" "clientAuth"
chmod 600 ./*-key.pem
echo "make-certs: CA and certificates for ${names[*]} and cli in $(pwd)"
