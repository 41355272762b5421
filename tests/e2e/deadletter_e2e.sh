#!/usr/bin/env bash
# Dead letters and the operator: the postal core refuses every order (503), the hub gives up
# after max_attempts and dead-letters them (the dossier shows dead_lettered); once the postal
# core is back, an operator redrives them with `dossier-hub admin`, audited, and they are
# delivered with their original order ids (no duplicate order).
export E2E_HUB_SED='s|max_attempts: 10|max_attempts: 2|; s|backoff: { initial: 500ms|backoff: { initial: 100ms|'
source "$(dirname "$0")/lib.sh"
e2e_start
admin_cli() { "$HUB_BIN" admin --url "http://127.0.0.1:$ADMIN_PORT" "$@"; }
faults() {
  curl -s --cacert "$CERTS/ca.crt" --cert "$CERTS/hub.crt" --key "$CERTS/hub.key" -d "$1" -o /dev/null \
    -w '%{http_code}' "https://127.0.0.1:$SIM_PORT/admin/faults"
}
check "the postal core starts refusing every order" test "$(faults '{"error_rate":1}')" = 200

ids=()
for f in "$E2E_ROOT"/samples/hcm-justice/valid/0[1-3]*.xml; do
  r=$(post hcm-justice "$f")
  ids+=("$(body_of "$r" | jq -r '.dossiers[0].hub_id')")
done
all=true
for id in "${ids[@]}"; do wait_status hcm-justice "$id" dead_lettered 30 || all=false; done
check "after max_attempts the dossiers are dead-lettered, not lost" $all
list=$(admin_cli dead-letters list)
check "operators list the dead letters" test "$(jq .total <<<"$list")" -ge 3
one=$(jq -r '.dead_letters[0].id' <<<"$list")
show=$(admin_cli dead-letters show "$one")
check "and see one with its last error and payload" jq -e '.entry.last_error != "" and (.entry.payload | length > 0)' <<<"$show"
check "redrive needs an actor for the audit log" test "$(admin_cli dead-letters redrive --all >/dev/null 2>&1; echo $?)" = 2

check "the postal core comes back" test "$(faults '{"error_rate":0}')" = 200
out=$(admin_cli dead-letters redrive --all --actor e2e-operator 2>&1)
check "an operator redrives them all, with progress" grep -q "redrive: 3 dead letter(s)" <<<"$out"
all=true
for id in "${ids[@]}"; do wait_status hcm-justice "$id" delivered 60 || all=false; done
check "redriven dossiers are delivered" $all
trace=$(admin_cli trace "${ids[0]}")
check "the redrive is audited with the operator's name" jq -e '[.audit[] | select(.actor == "admin:e2e-operator")] | length >= 1' <<<"$trace"
orders=$(jq -r 'select(.type == "order") | .order_id' "$E2E_DIR/postal-sim-orders.jsonl" | sort | uniq -d | wc -l)
check "each dossier was ordered once, with its original order id" test "$orders" -eq 0
check "nothing is left dead" test "$(admin_cli dead-letters list | jq .total)" -eq 0
check "the audit chain verifies, offline too" "$HUB_BIN" audit verify --db "$E2E_DIR/hub.db"
e2e_finish
