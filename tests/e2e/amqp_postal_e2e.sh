#!/usr/bin/env bash
# A postal core on AMQP, end to end: the real hub on its embedded store with the postal endpoint
# on RabbitMQ (samples/amqp-postal/hub.yaml) and the real simulator consuming the order queue
# (samples/amqp-postal/postal-sim.yaml), only ports, paths and queue names changed. Every valid
# sample is pushed over mTLS and each dossier must reach delivered (ordered through the queue,
# then status events over HTTPS). Then the simulator is stopped while more orders are accepted:
# they wait in the queue, and once it is back every one is delivered; the simulator's journal
# holds exactly one order per key. Needs the `amqp` server (tests/servers/rabbitmq.sh, DH_AMQP_URL).
source "$(dirname "$0")/lib.sh"
AMQP_URL=${DH_AMQP_URL:-amqp://guest:guest@127.0.0.1:55672/}
ORDERS="e2e.$$.postal.orders"
REPLIES="e2e.$$.postal.replies"
ctl() { bash "$E2E_ROOT/tests/servers/rabbitmq.sh" ctl "$@" 2>/dev/null; }
trap 'for q in "$ORDERS" "$REPLIES" "$REPLIES.dead"; do ctl delete_queue "$q" >/dev/null; done' EXIT

write_configs() {  # lib.sh's, on the AMQP samples
  HUB_PORT=$(free_port)
  ADMIN_PORT=$(free_port)
  SIM_PORT=$(free_port)
  local common="s|\.\./\.\./certs/dev|$CERTS|g; s|amqp://guest:guest@127.0.0.1:55672/|$AMQP_URL|; s|postal\.orders|$ORDERS|"
  sed -e "$common" -e "s|port: 8443|port: $HUB_PORT|; s|port: 8444|port: $ADMIN_PORT|" \
      -e "s|https://127.0.0.1:9443|https://127.0.0.1:$SIM_PORT|; s|\.\./\.\./mappings|$E2E_ROOT/mappings|g" \
      -e "s|file: \.\./\.\./build/demo-amqp/dossier-hub.db|file: $E2E_DIR/hub.db|; s|dh\.postal\.replies|$REPLIES|" \
      -e "s|agency_rate: 500|agency_rate: 5000|; s|agency_burst: 1000|agency_burst: 10000|" \
      "$E2E_ROOT/samples/amqp-postal/hub.yaml" >"$E2E_DIR/hub.yaml"
  # Events every 300 ms instead of 2 s, and no failed deliveries: the run stays short.
  sed -e "$common" -e "s|port: 9443|port: $SIM_PORT|; s|https://127.0.0.1:8443|https://127.0.0.1:$HUB_PORT|" \
      -e "s|\.\./\.\./build/demo-amqp|$E2E_DIR|; s|step: 2s|step: 300ms|; s|delivery_failure_rate: 0.1|delivery_failure_rate: 0|" \
      "$E2E_ROOT/samples/amqp-postal/postal-sim.yaml" >"$E2E_DIR/postal-sim.yaml"
}

e2e_start
check "the simulator consumes the order queue" logged "$E2E_DIR/postal-sim.log" '"event":"postal_sim_consuming"'

declare -A agency_of
ids=()
push_all() {  # push_all KEY_SUFFIX: every valid sample once, under keys of this round
  local file agency r
  for file in "$E2E_ROOT"/samples/*/valid/*.xml "$E2E_ROOT"/samples/*/valid/*.json; do
    [[ $file == *.expected.json ]] && continue
    agency=$(basename "$(dirname "$(dirname "$file")")")
    r=$(post "$agency" "$file" -H "Idempotency-Key: $1-$(basename "$file")")
    if [[ $(code_of "$r") == 202 ]]; then
      for id in $(body_of "$r" | jq -r '.dossiers[].hub_id'); do ids+=("$id"); agency_of[$id]=$agency; done
    else
      fail "$agency $(basename "$file"): $(code_of "$r")"
    fi
  done
}
all_reach() {  # all_reach STATUS SECONDS
  local id ok=true
  for id in "${ids[@]}"; do
    kill -0 "$hub_pid" 2>/dev/null || { echo "  the hub is gone"; return 1; }
    wait_status "${agency_of[$id]}" "$id" "$1" "$2" || ok=false
  done
  $ok
}
metric() { curl -s "$(admin_url /metrics)" | awk -v m="$1" '$1 == m { print $2 }'; }
ready_in_queue() { ctl list_queues --no-table-headers --quiet name messages_ready | awk -v q="$ORDERS" '$1 == q { print $2 }'; }
# The broker's queue statistics are refreshed every few seconds: wait for the count, within reason.
queue_holds() {  # queue_holds N
  local deadline=$((SECONDS + 15)) n=""
  while ((SECONDS < deadline)); do
    n=$(ready_in_queue)
    [[ $n == "$1" ]] && return 0
    sleep 0.2
  done
  echo "  $n orders ready in $ORDERS, not $1"
  return 1
}

# ---- every valid sample, through the queue
push_all first
first=${#ids[@]}
pass "every valid sample accepted ($first dossiers)"
check "every dossier reaches delivered through the queue" all_reach delivered 40

# ---- the simulator away: orders wait in the queue, nothing is lost
kill "$sim_pid" && wait "$sim_pid" 2>/dev/null
sim_pid=""
push_all second
waiting=$((${#ids[@]} - first))
check "with the simulator stopped, the $waiting new orders wait in the queue" queue_holds "$waiting"
check "they are handed over (confirmed), not delivered" bash -c "[[ \$(curl -s '$(admin_url /metrics)' | \
  awk '\$1 ~ /^dossier_hub_dispatch_total/ && /outcome=\"handed_over\"/ { s += \$2 } END { print s }') -ge ${#ids[@]} ]]"
start_sim
check "once the simulator is back, every dossier reaches delivered" all_reach delivered 40

# ---- exactly one order per key at the simulator, nothing left behind
one_order_each() {
  local orders unique
  orders=$(jq -r 'select(.type == "order") | .order_id' "$E2E_DIR/postal-sim-orders.jsonl" | wc -l)
  unique=$(jq -r 'select(.type == "order") | .order_id' "$E2E_DIR/postal-sim-orders.jsonl" | sort -u | wc -l)
  [[ $orders == "${#ids[@]}" && $unique == "${#ids[@]}" ]] || { echo "  $orders orders, $unique ids, ${#ids[@]} dossiers"; return 1; }
}
check "the simulator journalled exactly one order per dossier" one_order_each
check "every reply was recorded, none unknown or unreadable" test \
  "$(metric 'dossier_hub_postal_replies_total{endpoint="postal",outcome="recorded"}')" = "${#ids[@]}"
outbox_empty() {  # the gauge is refreshed about once a second
  local deadline=$((SECONDS + 5))
  while ((SECONDS < deadline)); do
    [[ $(metric dossier_hub_outbox_depth) == 0 ]] && return 0
    sleep 0.2
  done
  return 1
}
check "nothing is left in the outbox" outbox_empty
check "no order is left in the queue" queue_holds 0
check "the broker's password is in no log" bash -c "! grep -q 'guest:guest' '$E2E_DIR'/*.log"
e2e_finish
