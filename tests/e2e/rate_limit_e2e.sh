#!/usr/bin/env bash
# Per-agency rate limits on the real listener. An agency whose mapping sets no `limits` gets the
# hub's limits.agency_rate / agency_burst (here 1 per second, burst 2); one that sets them gets its
# own, higher (hcm-immigration) or lower (hcm-transport). Over it: 429 problem+json with
# Retry-After, and the request passes once that time has gone. A reload changes the limits.
export E2E_AGENCY_RATE=1 E2E_AGENCY_BURST=2
source "$(dirname "$0")/lib.sh"
copy_mappings
echo 'limits: { rate: 200, burst: 400 }' >>"$E2E_MAPPINGS/hcm-immigration.yaml"
echo 'limits: { rate: 0.2, burst: 1 }' >>"$E2E_MAPPINGS/hcm-transport.yaml"
e2e_start

headers=$E2E_DIR/headers
header() { tr -d '\r' <"$headers" | sed -n "s/^$1: //Ip" | tail -1; }
justice=("$E2E_ROOT"/samples/hcm-justice/valid/0[1-3]*.xml)
transport=()
for f in "$E2E_ROOT"/samples/hcm-transport/valid/0[1-4]*.json; do [[ $f == *.expected.json ]] || transport+=("$f"); done

# The hub's default: two at once (the burst), the third refused.
codes=()
for f in "${justice[@]}"; do codes+=("$(code_of "$(post hcm-justice "$f" -D "$headers")")"); done
check "an agency without limits gets the hub's burst of 2 (${codes[*]})" test "${codes[0]} ${codes[1]}" = "202 202"
check "the request beyond it is refused with 429" test "${codes[2]}" = 429
r=$(post hcm-justice "${justice[2]}" -D "$headers")
check "as problem+json" test "$(header Content-Type)" = application/problem+json
check "of type rate-limited" holds '.type | endswith("rate-limited")' <<<"$(body_of "$r")"
check "saying the agency's rate" holds '.errors[0].reason | contains("rate of 1 requests per second")' <<<"$(body_of "$r")"
wait_for=$(header Retry-After)
check "with Retry-After: 1 (one token a second; got '$wait_for')" test "$wait_for" = 1
sleep "$wait_for"
check "after Retry-After seconds the request passes" test "$(code_of "$(post hcm-justice "${justice[2]}")")" = 202

# An agency with a higher rate of its own: 40 at once all pass.
make_messages 40 "$E2E_DIR/immigration"
many=$(post_many hcm-immigration "$E2E_DIR/immigration" 8)
check "an agency with limits of its own gets them: 40 at once, all 202 ($(sort <<<"$many" | uniq -c | xargs))" \
  test "$(grep -c '^202$' <<<"$many")" -eq 40

# An agency with a lower one: one at a time, one every 5 s.
first=$(code_of "$(post hcm-transport "${transport[0]}")")
second=$(code_of "$(post hcm-transport "${transport[1]}" -D "$headers")")
check "an agency with a lower rate gets its burst of 1 ($first), then 429 ($second)" test "$first $second" = "202 429"
check "with Retry-After: 5 (0.2 a second; got '$(header Retry-After)')" test "$(header Retry-After)" = 5

# A reload takes the mapping's new limits: without them, hcm-transport falls back to the hub's.
sed -i '/^limits:/d' "$E2E_MAPPINGS/hcm-transport.yaml"
check "the mappings reload" test "$(code_of "$(admin -X POST "$(admin_url /admin/mappings/reload)")")" = 200
sleep 2  # the bucket refills at the hub's rate, 1 a second, up to its burst of 2
codes=()
for f in "${transport[@]:1:3}"; do codes+=("$(code_of "$(post hcm-transport "$f")")"); done
check "after the reload hcm-transport has the hub's burst of 2, then 429 (${codes[*]})" \
  test "${codes[*]}" = "202 202 429"

metrics=$(admin "$(admin_url /metrics)")
check "refusals are counted per agency" grep -qE \
  'dossier_hub_messages_total\{agency="hcm-justice",outcome="rate_limited"\} [1-9]' <<<"$metrics"
e2e_finish
