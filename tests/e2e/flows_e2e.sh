#!/usr/bin/env bash
# End to end over real TLS on loopback, with the real binary and real SQLite: every flow of every
# agency to `delivered`, duplicates, identity, isolation between agencies, refusals, hostile
# bodies while others are served, late/repeated/out-of-order events, admin, and no personal data
# in the logs.
source "$(dirname "$0")/lib.sh"
e2e_start

# ---- every valid sample of every agency
declare -A agency_of
ids=()
for file in "$E2E_ROOT"/samples/*/valid/*.xml "$E2E_ROOT"/samples/*/valid/*.json; do
  [[ $file == *.expected.json ]] && continue
  agency=$(basename "$(dirname "$(dirname "$file")")")
  r=$(post "$agency" "$file")
  expected=$(jq 'if type == "array" then length else 1 end' "${file%.*}.expected.json")
  got=$(body_of "$r" | jq '.dossiers | length' 2>/dev/null)
  if [[ $(code_of "$r") == 202 && $got == "$expected" ]]; then
    for id in $(body_of "$r" | jq -r '.dossiers[].hub_id'); do ids+=("$id"); agency_of[$id]=$agency; done
  else
    fail "$agency $(basename "$file"): expected 202 with $expected dossiers, got $(code_of "$r"): $(body_of "$r" | head -c 300)"
  fi
done
pass "every valid sample accepted (${#ids[@]} dossiers)"

all_delivered=true
for id in "${ids[@]}"; do wait_status "${agency_of[$id]}" "$id" delivered 60 || all_delivered=false; done
check "every dossier of every agency reaches delivered" $all_delivered

# ---- status callbacks, each in its agency's own format (redirected to the simulator, which records them)
callbacks_of() {
  curl -s --cacert "$CERTS/ca.crt" --cert "$CERTS/hub.crt" --key "$CERTS/hub.key" \
    "https://127.0.0.1:$SIM_PORT/agency-callbacks?agency=$1"
}
for _ in $(seq 1 100); do
  (($(callbacks_of hcm-social-insurance | jq .count) > 0 && $(callbacks_of hcm-justice | jq .count) > 0)) && break
  sleep 0.1
done
soap_callbacks() {  # SOAP 1.1, as the mapping says: text/xml, its SOAPAction, the report in the Body
  callbacks_of hcm-social-insurance | jq -e '.count > 0 and all(.callbacks[];
    .content_type == "text/xml; charset=utf-8" and .soap_action == "\"urn:vn:bhxh:hcm:bcci:1#CapNhatTrangThaiPhat\""
    and (.body | test("<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\\s*<soap:Body>\\s*<bh:CapNhatTrangThaiPhat ")))' >/dev/null
}
check "a SOAP agency's status callbacks come in a SOAP 1.1 envelope with its SOAPAction" soap_callbacks
plain_callbacks() {
  callbacks_of hcm-justice | jq -e '.count > 0 and all(.callbacks[];
    .content_type == "application/xml; charset=utf-8" and (has("soap_action") | not)
    and (.body | test("^<\\?xml[^>]*>\\s*<tp:CapNhatTrangThaiBCCI ")))' >/dev/null
}
check "a plain XML agency's callbacks are its own XML, without an envelope" plain_callbacks

# ---- the move to `ordered` (the postal core took the order) is in every history and reported
ordered_once() {
  for id in "${ids[@]}"; do
    body_of "$(get "${agency_of[$id]}" "/v1/dossiers/$id")" |
      jq -e '[.history[] | select(.status == "ordered")] | length == 1 and .[0].applied
             and (.[0].event_id | startswith("hub:ordered:"))' >/dev/null || return 1
  done
}
check "every dossier's history records its move to ordered, once" ordered_once
justice=0
for id in "${ids[@]}"; do [[ ${agency_of[$id]} == hcm-justice ]] && justice=$((justice + 1)); done
ordered_reported() {  # hcm-justice reports `ordered` as BD_TIEP_NHAN: one callback per dossier
  for _ in $(seq 1 100); do
    got=$(callbacks_of hcm-justice | jq '[.callbacks[] | select(.body | contains("BD_TIEP_NHAN"))] | length')
    [[ $got == "$justice" ]] && return 0
    sleep 0.1
  done
  echo "ordered callbacks to hcm-justice: $got, expected $justice"
  return 1
}
check "the agency is told its dossier was ordered, once per dossier ($justice)" ordered_reported

id=${ids[0]}
view=$(body_of "$(get "${agency_of[$id]}" "/v1/dossiers/$id")")
check "a delivered dossier has its waybill and its history" \
  jq -e '(.item_code | test("^[A-Z]{2}[0-9]{9}VN$")) and (.history | length >= 4) and .dossier.route != null' <<<"$view"
code=$(jq -r .dossier.dossier_code <<<"$view")
found=$(body_of "$(get "${agency_of[$id]}" "/v1/dossiers?dossier_code=$code")" | jq '.dossiers | length')
check "an agency finds its dossier by dossier_code" test "$found" -ge 1

# ---- duplicates: the same message again creates nothing and returns the first answer
sample=$E2E_ROOT/samples/hcm-immigration/valid/01-ho-chieu-dia-chi-cu.json
[[ -f $sample ]] || sample=$(ls "$E2E_ROOT"/samples/hcm-immigration/valid/*.json | grep -v expected | head -1)
first=$(post hcm-immigration "$sample")
again=$(post hcm-immigration "$sample")
same_answer() {
  [[ $(code_of "$again") == 202 && $(body_of "$again" | jq .duplicate) == true &&
     "$(body_of "$again" | jq -c .dossiers)" == "$(body_of "$first" | jq -c .dossiers)" ]]
}
check "a repeated message is answered 202 duplicate:true with the first answer" same_answer
r=$(post hcm-immigration "$sample" -H "Idempotency-Key: e2e-key-1")
r2=$(post hcm-immigration "$sample" -H "Idempotency-Key: e2e-key-1")
key_decides() { [[ $(body_of "$r" | jq .duplicate) == false && $(body_of "$r2" | jq .duplicate) == true ]]; }
check "an Idempotency-Key header decides what is a repeat" key_decides

# ---- identity
no_cert=$(curl -s --cacert "$CERTS/ca.crt" -H 'Content-Type: application/json' --data-binary "@$sample" \
  -w '\n%{http_code}' "https://127.0.0.1:$HUB_PORT/v1/messages")
check "no client certificate: 401" test "$(code_of "$no_cert")" = 401
rogue=$(curl -s --cacert "$CERTS/ca.crt" --cert "$CERTS/rogue-client.crt" --key "$CERTS/rogue-client.key" \
  -H 'Content-Type: application/json' --data-binary "@$sample" -w '\n%{http_code}' "https://127.0.0.1:$HUB_PORT/v1/messages")
check "a certificate from an untrusted CA, even with an agency's name: 403" test "$(code_of "$rogue")" = 403
as_postal=$(post postal "$sample")
check "the postal core cannot post agency messages: 403" test "$(code_of "$as_postal")" = 403
check "a wrong media type: 415" test "$(code_of "$(post hcm-justice "$sample")")" = 415
# A client that resumes its TLS session on a new connection (as curl, Java and .NET do) is served,
# as the same agency: the second request below goes over a resumed TLS 1.3 session.
lookup="https://127.0.0.1:$HUB_PORT/v1/dossiers?dossier_code=000.00.12.H29-250115-0001"
resumed=$(curl -sv --tlsv1.3 --cacert "$CERTS/ca.crt" --cert "$CERTS/hcm-justice.crt" --key "$CERTS/hcm-justice.key" \
  -H 'Connection: close' -o /dev/null -o /dev/null -w '%{http_code}\n' "$lookup" "$lookup" 2>"$E2E_DIR/resume.log")
check "a resumed TLS session is served (answers: $(xargs <<<"$resumed"))" test "$(xargs <<<"$resumed")" = "200 200"
check "and it was a resumption" grep -q "SSL re-using session ID" "$E2E_DIR/resume.log"

# ---- isolation: agency A cannot read agency B's dossier (it looks like a missing one)
other=$(get hcm-justice "/v1/dossiers/$(body_of "$first" | jq -r '.dossiers[0].hub_id')")
check "an agency cannot read another agency's dossier: 404" test "$(code_of "$other")" = 404

# ---- refusals: an invalid sample gets its problem and is recorded
bad=$(ls "$E2E_ROOT"/samples/hcm-justice/invalid/04-*.xml | head -1)
r=$(post hcm-justice "$bad")
named() { [[ $(code_of "$r") == 422 && $(body_of "$r" | jq -r '.errors[0].path') == /applicant/phone ]]; }
check "an invalid message: 422 with the field named" named
same_as_translate() {  # the problem an agency gets over HTTP is the one `translate` prints
  diff <(body_of "$r" | jq -S .) <("$HUB_BIN" translate -m "$E2E_ROOT/mappings/hcm-justice.yaml" "$bad" | jq -S .)
}
check "the 422 over HTTP is translate's problem, message_type included" same_as_translate
check "the 422 names the message type" test "$(body_of "$r" | jq -r .message_type)" != null
rej=$(body_of "$(admin "$(admin_url /admin/rejections)")" | jq '.rejections | length')
check "the rejection is recorded for operators" test "$rej" -ge 1

# ---- hostile bodies, while others are served
big=$E2E_DIR/big.json
head -c 2000000 /dev/zero | tr '\0' 'a' | sed 's/^/{"a":"/; s/$/"}/' >"$big"
check "an oversized body: 413" test "$(code_of "$(post hcm-immigration "$big")")" = 413
printf '{"a": [[[[[[[[' >"$E2E_DIR/broken.json"
check "a malformed body: 400" test "$(code_of "$(post hcm-immigration "$E2E_DIR/broken.json")")" = 400
# A slow client: opens TLS, sends half a request line and stalls. Others are served meanwhile, and
# the slow one is cut off by the edge's timeouts.
(
  printf 'POST /v1/messages HTTP/1.1\r\nHost: x\r\n'
  sleep 40
) | timeout 45 openssl s_client -quiet -connect "127.0.0.1:$HUB_PORT" -cert "$CERTS/hcm-justice.crt" \
  -key "$CERTS/hcm-justice.key" -CAfile "$CERTS/ca.crt" >/dev/null 2>&1 &
slow=$!
sleep 0.5
r=$(post hcm-immigration "$sample" -H "Idempotency-Key: e2e-during-slow")
check "a slow client does not hold up others" test "$(code_of "$r")" = 202
kill $slow 2>/dev/null

# ---- status events: late, repeated, out of order never move a status backwards
order=$(body_of "$(get hcm-immigration "/v1/dossiers/$(body_of "$r" | jq -r '.dossiers[0].hub_id')")" | jq -r .order_id)
hub_id=$(body_of "$r" | jq -r '.dossiers[0].hub_id')
wait_status hcm-immigration "$hub_id" delivered 60 >/dev/null
events() {
  curl -s --cacert "$CERTS/ca.crt" --cert "$CERTS/postal.crt" --key "$CERTS/postal.key" -H 'Content-Type: application/json' \
    -d "$1" -w '\n%{http_code}' "https://127.0.0.1:$HUB_PORT/v1/postal/events"
}
late=$(events "{\"events\":[{\"event_id\":\"e2e-late-1\",\"order_id\":\"$order\",\"status\":\"in_transit\",\"occurred_at\":\"2025-01-01T08:00:00+07:00\"}]}")
check "a late event is recorded, not applied" test "$(body_of "$late" | jq -r '.results[0].outcome')" = recorded
rep=$(events "{\"events\":[{\"event_id\":\"e2e-late-1\",\"order_id\":\"$order\",\"status\":\"in_transit\",\"occurred_at\":\"2025-01-01T08:00:00+07:00\"}]}")
check "a repeated event_id changes nothing" test "$(body_of "$rep" | jq -r '.results[0].outcome')" = duplicate
view=$(body_of "$(get hcm-immigration "/v1/dossiers/$hub_id")")
check "the status stayed delivered, and the late event is in the history" \
  jq -e '.status == "delivered" and ([.history[] | select(.event_id == "e2e-late-1" and .applied == false)] | length == 1)' <<<"$view"
bad_ev=$(events '{"events":[{"event_id":"x","order_id":"y","status":"teleported","occurred_at":"yesterday"}]}')
each_field() { [[ $(code_of "$bad_ev") == 422 && $(body_of "$bad_ev" | jq '.errors | length') -ge 2 ]]; }
check "an invalid event: 422 naming each field" each_field
unknown=$(events '{"events":[{"event_id":"e2e-unknown","order_id":"no-such-order","status":"delivered","occurred_at":"2025-01-01T08:00:00+07:00"}]}')
check "an event for an unknown order is answered, not an error" test "$(body_of "$unknown" | jq -r '.results[0].outcome')" = unknown_order
check "agencies cannot post status events: 403" test "$(code_of "$(curl -s --cacert "$CERTS/ca.crt" --cert "$CERTS/hcm-justice.crt" --key "$CERTS/hcm-justice.key" -d '{}' -o /dev/null -w '\n%{http_code}' "https://127.0.0.1:$HUB_PORT/v1/postal/events")")" = 403

# ---- operations
probes() { curl -sf --cacert "$CERTS/ca.crt" "https://127.0.0.1:$HUB_PORT/healthz" >/dev/null && curl -sf --cacert "$CERTS/ca.crt" "https://127.0.0.1:$HUB_PORT/readyz" >/dev/null; }
check "/healthz and /readyz answer" probes
migrated() { for v in 1 2 3; do grep -q "\"event\":\"store_migrated\",\"version\":\"$v\"" "$E2E_DIR/hub.log" || return 1; done; }
check "a new store logs each schema migration it applied" migrated
metrics=$(curl -s "$(admin_url /metrics)")
check "metrics count messages per agency and outcome" grep -q 'dossier_hub_messages_total{agency="hcm-justice",outcome="accepted"}' <<<"$metrics"
histograms() { grep -q dossier_hub_request_seconds_bucket <<<"$metrics" && grep -q dossier_hub_outbox_depth <<<"$metrics"; }
check "metrics have latency histograms and the outbox depth" histograms
trace=$(body_of "$(admin "$(admin_url "/admin/dossiers/$hub_id/trace")")")
check "a dossier's trace shows its audit entries" jq -e '.audit | length >= 2' <<<"$trace"
check "the audit chain verifies" test "$(code_of "$(admin "$(admin_url /admin/audit/verify)")")" = 200
reload=$(admin -X POST "$(admin_url /admin/mappings/reload)")
check "mappings reload on an admin call" test "$(code_of "$reload")" = 200
kill -HUP "$hub_pid"
sleep 0.3
check "and on SIGHUP, with the hub still serving" test "$(code_of "$(post hcm-immigration "$sample" -H 'Idempotency-Key: after-hup')")" = 202

# ---- every route of docs/openapi.yaml is served (a missing route answers "no such endpoint")
unserved=0
while read -r method path; do
  url_path=${path//\{hub_id\}/$hub_id}
  url_path=${url_path//\{id\}/none}
  if [[ $path == /admin/* ]]; then
    answer=$(curl -s -X "${method^^}" -d '{}' "$(admin_url "$url_path")")
  elif [[ $path == /v1/postal/* ]]; then
    answer=$(curl -s -X "${method^^}" -d '{}' --cacert "$CERTS/ca.crt" --cert "$CERTS/postal.crt" --key "$CERTS/postal.key" "https://127.0.0.1:$HUB_PORT$url_path")
  else
    answer=$(curl -s -X "${method^^}" -d '{}' --cacert "$CERTS/ca.crt" --cert "$CERTS/hcm-immigration.crt" --key "$CERTS/hcm-immigration.key" "https://127.0.0.1:$HUB_PORT$url_path")
  fi
  if grep -q "no such endpoint\|no such admin endpoint" <<<"$answer"; then echo "  not served: $method $path"; unserved=$((unserved + 1)); fi
done < <(awk '/^paths:/ {p = 1; next} /^components:/ {p = 0} p && /^  \// {sub(":$", "", $1); path = $1} p && /^    (get|post):/ {sub(":", "", $1); print $1, path}' "$E2E_ROOT/docs/openapi.yaml")
check "every route in docs/openapi.yaml is served" test "$unserved" -eq 0

# ---- no personal data in the logs: names, ID numbers and phones of every valid sample
leaks=0
while read -r value; do
  [[ ${#value} -lt 6 ]] && continue
  if grep -qF -- "$value" "$E2E_DIR/hub.log"; then echo "  the hub log contains a sample's personal data: ${value:0:3}..."; leaks=$((leaks + 1)); fi
done < <(jq -r '(if type == "array" then .[] else . end) | (.applicant, .recipient // empty) | (.full_name, .id_number // empty, .phone // empty)' \
  "$E2E_ROOT"/samples/*/valid/*.expected.json | sort -u)
check "no personal data in the hub's logs" test "$leaks" -eq 0

e2e_finish
