#!/usr/bin/env bash
# The postal core goes down, then comes back: the hub keeps accepting (it stores and answers
# 202), retries with backoff while its circuit breaker protects the postal core, and once it is
# back every dossier is ordered: nothing lost, no duplicate order per key. With the simulator
# sending duplicate and reordered status events, no status moves backwards.
source "$(dirname "$0")/lib.sh"
e2e_start

faults() {
  curl -s --cacert "$CERTS/ca.crt" --cert "$CERTS/hub.crt" --key "$CERTS/hub.key" -d "$1" \
    -w '\n%{http_code}' "https://127.0.0.1:$SIM_PORT/admin/faults"
}
check "the simulator takes fault knobs" test "$(code_of "$(faults '{"down_for":"6s","duplicate_events":0.5,"reorder_events":0.5}')")" = 200

template=$E2E_ROOT/samples/hcm-immigration/valid/01-ho-chieu-dia-chi-cu.json
codes=$E2E_DIR/codes.txt
: >"$codes"
ids=()
for i in $(seq 1 20); do
  code=$(printf '000.00.15.H29-251128-9%03d' "$i")
  jq --arg c "$code" --arg m "$(printf '9c1e2a4b-3f5d-4e8a-9b61-%012d' "$i")" '.hoSo.maHoSo = $c | .maThongDiep = $m' \
    "$template" >"$E2E_DIR/m.json"
  r=$(post hcm-immigration "$E2E_DIR/m.json")
  if [[ $(code_of "$r") == 202 ]]; then
    echo "$code" >>"$codes"
    ids+=("$(body_of "$r" | jq -r '.dossiers[0].hub_id')")
  fi
done
check "the hub accepts while the postal core is down" test "${#ids[@]}" -eq 20
sleep 2
metrics=$(curl -s "$(admin_url /metrics)")
retried() { grep -E 'dossier_hub_dispatch_total\{.*outcome="retry"' <<<"$metrics" | awk '{s += $2} END {exit !(s > 0)}'; }
check "orders are retried while it is down" retried
status=$(body_of "$(get hcm-immigration "/v1/dossiers/${ids[0]}")" | jq -r .status)
check "dossiers wait as accepted meanwhile (not lost, not dead)" test "$status" = accepted

all=true
for id in "${ids[@]}"; do wait_status hcm-immigration "$id" delivered 90 || all=false; done
check "after the outage every dossier is ordered and delivered" $all
journal=$E2E_DIR/postal-sim-orders.jsonl
ordered=$(jq -r 'select(.type == "order") | .order.dossier_code' "$journal" | grep -cxF -f "$codes")
check "exactly one order per dossier ($ordered for 20)" test "$ordered" -eq 20
dead=$(body_of "$(admin "$(admin_url /admin/dead-letters)")" | jq .total)
check "no dead letters" test "$dead" -eq 0
backwards=0
not_applied=0
rank='{"ordered":1,"picked_up":2,"in_transit":3,"out_for_delivery":4,"delivery_failed":4,"delivered":5}'
for id in "${ids[@]}"; do
  view=$(body_of "$(get hcm-immigration "/v1/dossiers/$id")")
  # In arrival order, the statuses applied only ever go forward (out_for_delivery and
  # delivery_failed may alternate); the rest are kept in the history, not applied.
  jq -e --argjson r "$rank" '[.history[] | select(.applied) | $r[.status]] as $a
      | all(range(1; $a | length); $a[.] >= $a[. - 1])' <<<"$view" >/dev/null || backwards=$((backwards + 1))
  n=$(jq '[.history[] | select(.applied | not)] | length' <<<"$view")
  not_applied=$((not_applied + n))
done
check "duplicate and reordered events never moved a status backwards" test "$backwards" -eq 0
check "and some did arrive late or twice ($not_applied kept without applying)" test "$not_applied" -gt 0

# The postal core moves: orders queued while the hub was configured with its old address go to
# the new one once the hub restarts with it (the URL is configuration, not part of the work).
stop_hub
old_url="https://127.0.0.1:$(free_port)"
sed -i "s|url: \"https://127.0.0.1:$SIM_PORT\"|url: \"$old_url\"|" "$E2E_DIR/hub.yaml"
check "the hub restarts with the postal core's old address" start_hub
moved=()
for i in $(seq 1 5); do
  jq --arg c "$(printf '000.00.15.H29-251128-8%03d' "$i")" --arg m "$(printf '7d2e0b4c-1a2b-4c3d-8e9f-%012d' "$i")" \
    '.hoSo.maHoSo = $c | .maThongDiep = $m' "$template" >"$E2E_DIR/m.json"
  r=$(post hcm-immigration "$E2E_DIR/m.json")
  [[ $(code_of "$r") == 202 ]] && moved+=("$(body_of "$r" | jq -r '.dossiers[0].hub_id')")
done
check "it accepts while the old address does not answer" test "${#moved[@]}" -eq 5
retried_after_move() {
  curl -s "$(admin_url /metrics)" | grep -E 'dossier_hub_dispatch_total\{.*outcome="retry"' | awk '{s += $2} END {exit !(s > 0)}'
}
for _ in $(seq 1 100); do retried_after_move && break; sleep 0.1; done
check "their orders are retried against the old address" retried_after_move
stop_hub
sed -i "s|url: \"$old_url\"|url: \"https://127.0.0.1:$SIM_PORT\"|" "$E2E_DIR/hub.yaml"
check "the hub restarts with the new address" start_hub
all=true
for id in "${moved[@]}"; do wait_status hcm-immigration "$id" delivered 90 || all=false; done
check "the queued orders follow the endpoint to its new address and are delivered" $all
n=$(jq -r 'select(.type == "order") | .order.dossier_code' "$journal" | grep -c '^000\.00\.15\.H29-251128-8')
check "exactly one order each ($n for 5)" test "$n" -eq 5
e2e_finish
