#!/usr/bin/env bash
# The demo (README, first command): starts the postal core simulator and the hub on the embedded
# store with samples/postal-sim.yaml and samples/hub.yaml, pushes every valid sample of every
# agency over mutual TLS, the way an agency system would, and follows each dossier until the
# simulated postman delivers it. Everything is on 127.0.0.1; both processes stop at the end.
#
#   samples/demo.sh            (after `cmake --workflow --preset release`)
#
# The same by hand: start the two processes as below, then for example
#   curl --cacert certs/dev/ca.crt --cert certs/dev/hcm-justice.crt --key certs/dev/hcm-justice.key \
#        -H 'Content-Type: application/xml' --data-binary @samples/hcm-justice/valid/01-ket-qua-phieu-so-1.xml \
#        https://127.0.0.1:8443/v1/messages
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
hub=${DOSSIER_HUB:-$root/build/release/dossier-hub}
demo=$root/build/demo
wait_seconds=${DEMO_WAIT_SECONDS:-90}
[[ -x "$hub" ]] || { echo "demo: $hub is not built (run: cmake --workflow --preset release)" >&2; exit 2; }

certs/make-dev-certs.sh
mkdir -p "$demo"
rm -f "$demo"/dossier-hub.db* "$demo"/postal-sim-orders.jsonl "$demo"/*.log

"$hub" postal-sim --config samples/postal-sim.yaml 2>"$demo/postal-sim.log" &
sim_pid=$!
"$hub" serve --config samples/hub.yaml 2>"$demo/hub.log" &
hub_pid=$!
cleanup() {
  kill "$hub_pid" "$sim_pid" 2>/dev/null || true
  wait "$hub_pid" "$sim_pid" 2>/dev/null || true
}
trap cleanup EXIT

tls=(--silent --show-error --cacert certs/dev/ca.crt)
for _ in $(seq 1 100); do
  curl "${tls[@]}" -o /dev/null https://127.0.0.1:8443/readyz 2>/dev/null && break
  sleep 0.1
done
curl "${tls[@]}" -o /dev/null https://127.0.0.1:8443/readyz || { echo "demo: the hub did not start; see $demo/hub.log" >&2; exit 1; }

echo "== pushing every valid sample over mTLS to https://127.0.0.1:8443/v1/messages"
declare -A agency_of
ids=()
for file in samples/*/valid/*.xml samples/*/valid/*.json; do
  [[ $file == *.expected.json ]] && continue
  agency=$(basename "$(dirname "$(dirname "$file")")")
  type=application/json
  [[ $file == *.xml ]] && type=application/xml
  answer=$(curl "${tls[@]}" --cert "certs/dev/$agency.crt" --key "certs/dev/$agency.key" \
    -H "Content-Type: $type" --data-binary "@$file" -w '\n%{http_code}' https://127.0.0.1:8443/v1/messages)
  code=${answer##*$'\n'}
  body=${answer%$'\n'*}
  n=$(jq '.dossiers | length' <<<"$body")
  printf '  %-22s %-44s %s, %s dossier(s)\n' "$agency" "$(basename "$file")" "$code" "$n"
  for id in $(jq -r '.dossiers[].hub_id' <<<"$body"); do
    ids+=("$id")
    agency_of[$id]=$agency
  done
done

first=$(ls samples/hcm-justice/valid/*.xml | head -1)
again=$(curl "${tls[@]}" --cert certs/dev/hcm-justice.crt --key certs/dev/hcm-justice.key \
  -H 'Content-Type: application/xml' --data-binary "@$first" https://127.0.0.1:8443/v1/messages)
echo "== the same message again: duplicate=$(jq .duplicate <<<"$again"), nothing new is created"

echo "== following ${#ids[@]} dossiers to the citizen (postal core simulator on https://127.0.0.1:9443)"
deadline=$((SECONDS + wait_seconds))
declare -A status_of item_of
while :; do
  pending=0
  for id in "${ids[@]}"; do
    [[ ${status_of[$id]:-} == delivered ]] && continue
    a=${agency_of[$id]}
    view=$(curl "${tls[@]}" --cert "certs/dev/$a.crt" --key "certs/dev/$a.key" "https://127.0.0.1:8443/v1/dossiers/$id")
    status_of[$id]=$(jq -r .status <<<"$view")
    item_of[$id]=$(jq -r '.item_code // "-"' <<<"$view")
    [[ ${status_of[$id]} == delivered ]] || pending=$((pending + 1))
  done
  summary=$(for id in "${ids[@]}"; do echo "${status_of[$id]}"; done | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}')
  echo "  ${summary%, }"
  ((pending == 0 || SECONDS >= deadline)) && break
  sleep 1
done

echo "== summary"
printf '  %-22s %-28s %-16s %s\n' agency hub_id item_code status
for id in "${ids[@]}"; do
  printf '  %-22s %-28s %-16s %s\n' "${agency_of[$id]}" "$id" "${item_of[$id]}" "${status_of[$id]}"
done
delivered=$(for id in "${ids[@]}"; do echo "${status_of[$id]}"; done | grep -c '^delivered$' || true)
echo "  $delivered of ${#ids[@]} dossiers delivered; logs in build/demo/, the store in build/demo/dossier-hub.db"
echo "  operators: curl http://127.0.0.1:8444/admin/dead-letters (while the hub runs)"
((delivered == ${#ids[@]}))
