#!/usr/bin/env bash
# A large batch of dead letters, as an outage of the postal core leaves them: 5,000 dossiers are
# refused once each (max_attempts 1; the breaker kept shut so that every one is tried), and an
# operator redrives them all with `dossier-hub admin dead-letters redrive --all`, which works page
# by page and prints its progress. Each is then ordered once, with its original order id.
export E2E_HUB_SED='s|max_attempts: 10|max_attempts: 1|; s|breaker: { failures: 5, open_for: 10s }|breaker: { failures: 10000, open_for: 1s }|'
source "$(dirname "$0")/lib.sh"
count=${REDRIVE_COUNT:-5000}
e2e_start
admin_cli() { "$HUB_BIN" admin --url "http://127.0.0.1:$ADMIN_PORT" "$@"; }
faults() {
  curl -s --cacert "$CERTS/ca.crt" --cert "$CERTS/hub.crt" --key "$CERTS/hub.key" -d "$1" -o /dev/null \
    -w '%{http_code}' "https://127.0.0.1:$SIM_PORT/admin/faults"
}
dead_total() { admin_cli dead-letters list --limit 1 | jq .total; }
orders=$E2E_DIR/postal-sim-orders.jsonl
ordered() { jq -r 'select(.type == "order") | .order.dossier_code' "$orders" 2>/dev/null | sort -u | wc -l; }

check "the postal core refuses every order" test "$(faults '{"error_rate":1}')" = 200
make_messages "$count" "$E2E_DIR/batch"
answers=$(post_many hcm-immigration "$E2E_DIR/batch" 8)
check "all $count messages are accepted" test "$(grep -c '^202$' <<<"$answers")" -eq "$count"
deadline=$((SECONDS + 180))
until (($(dead_total) >= count)) || ((SECONDS > deadline)); do sleep 1; done
check "all $count are dead-lettered ($(dead_total))" test "$(dead_total)" -eq "$count"

sampled=$(admin_cli dead-letters list --limit 5)
check "the postal core comes back" test "$(faults '{"error_rate":0}')" = 200
started=$SECONDS
admin_cli dead-letters redrive --all --actor e2e-operator >"$E2E_DIR/redrive.out" 2>"$E2E_DIR/redrive.err"
check "the redrive of $count succeeds" test $? -eq 0
echo "  redrive of $count took $((SECONDS - started)) s; progress: $(xargs <"$E2E_DIR/redrive.err")"
for ((page = 1000; page < count; page += 1000)); do
  check "it reports the progress after each page of 1000 ($page)" grep -qx "redrive: $page of $count" "$E2E_DIR/redrive.err"
done
check "up to the whole batch" grep -qx "redrive: $count of $count" "$E2E_DIR/redrive.err"
check "and the total" grep -qx "redrive: $count dead letter(s)" "$E2E_DIR/redrive.out"
deadline=$((SECONDS + 240))
until (($(ordered) >= count)) || ((SECONDS > deadline)); do sleep 1; done
check "every redriven dossier is ordered ($(ordered) of $count)" test "$(ordered)" -eq "$count"
dups=$(jq -r 'select(.type == "order") | .order_id' "$orders" | sort | uniq -d | wc -l)
check "once each, with its original order id (duplicates: $dups)" test "$dups" -eq 0
check "nothing is left dead" test "$(dead_total)" -eq 0
audited=0
for id in $(jq -r '.dead_letters[].entry.hub_id' <<<"$sampled"); do
  admin_cli trace "$id" | holds '[.audit[] | select(.actor == "admin:e2e-operator")] | length >= 1' &&
    audited=$((audited + 1))
done
check "the redrive is audited with the operator's name (sampled: $audited of 5)" test "$audited" -eq 5
check "the audit chain verifies" "$HUB_BIN" audit verify --db "$E2E_DIR/hub.db"
e2e_finish
