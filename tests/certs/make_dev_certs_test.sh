#!/usr/bin/env bash
# certs/make-dev-certs.sh: makes a working chain, is a no-op the second time, and the rogue
# client really is refused by the dev CA.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$root/certs/make-dev-certs.sh" "$out/dev" 2>/dev/null
for name in ca hub postal-sim postal hcm-justice hcm-immigration hcm-social-insurance hcm-ward-lgsp hcm-binh-thanh; do
  [[ -s "$out/dev/$name.crt" && -s "$out/dev/$name.key" ]] || { echo "missing $name"; exit 1; }
done
openssl verify -CAfile "$out/dev/ca.crt" -purpose sslserver "$out/dev/hub.crt" >/dev/null
openssl verify -CAfile "$out/dev/ca.crt" -purpose sslclient "$out/dev/hcm-justice.crt" >/dev/null
if openssl verify -CAfile "$out/dev/ca.crt" "$out/dev/rogue-client.crt" >/dev/null 2>&1; then
  echo "the rogue client verifies against the dev CA"; exit 1
fi
openssl x509 -in "$out/dev/hub.crt" -noout -ext subjectAltName | grep -q "IP Address:127.0.0.1"
before=$(stat -c %Y "$out/dev/hub.crt")
second=$("$root/certs/make-dev-certs.sh" "$out/dev" 2>&1)
[[ -z "$second" && $(stat -c %Y "$out/dev/hub.crt") == "$before" ]] || { echo "second run was not a no-op"; exit 1; }
[[ $(stat -c %a "$out/dev/hub.key") == 600 ]] || { echo "private key is not 600"; exit 1; }
echo "make-dev-certs: ok"
