#!/usr/bin/env bash
# Shared mode end to end: two hub instances on one PostgreSQL database (store.kind: postgres) and
# one RabbitMQ work queue (queue:), with the postal core on AMQP too (the simulator consumes the
# order queue and replies on the reply queue both hubs consume: docs/operations.md, "A postal core
# on AMQP"). Messages go to either hub; both relays publish from the one outbox and both
# consumers dispatch; every dossier reaches delivered; the same key sent to both hubs at once is
# stored once; no order or callback is sent twice; one audit chain verifies. The short shared-mode
# test, also run under the sanitizers (shared_failover_e2e.sh, the long one, orders over HTTPS).
# Needs the `pg` and `amqp` servers (tests/servers/*.sh; DH_PG_URL, DH_AMQP_URL).
source "$(dirname "$0")/lib.sh"
PG_URL=${DH_PG_URL:-postgresql://postgres@127.0.0.1:55432/postgres}
AMQP_URL=${DH_AMQP_URL:-amqp://guest:guest@127.0.0.1:55672/}
DB="dh_e2e_shared_$$"
DB_URL="${PG_URL%/*}/$DB"
psql -q "$PG_URL" -c "CREATE DATABASE $DB" || { echo "FAIL cannot create the test database"; exit 1; }
trap 'psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1' EXIT
sql() { psql -At "$DB_URL" -c "$1"; }
# A vhost of its own, left in place (see shared_failover_e2e.sh).
VHOST="dh-e2e-shared-$$"
"$E2E_ROOT/tests/servers/rabbitmq.sh" ctl add_vhost "$VHOST" >/dev/null || { echo "FAIL cannot add a vhost"; exit 1; }
"$E2E_ROOT/tests/servers/rabbitmq.sh" ctl set_permissions -p "$VHOST" guest ".*" ".*" ".*" >/dev/null

VHOST_URL="${AMQP_URL%/}/$VHOST"
# The demo configuration on PostgreSQL and the work queue, its postal endpoint on AMQP; the
# simulator takes the orders from that queue.
# (sed's `a` takes the rest of the script as its text: it comes last.)
E2E_HUB_SED="s#kind: sqlite#kind: postgres#; s#file: .*hub.db#url: $DB_URL#"
E2E_HUB_SED+="; s#postal: { url: \"https://[^\"]*\".*#postal: { url: \"$VHOST_URL\", queue: postal.orders, reply_queue: dh.postal.replies, timeout: 5s }#"
E2E_HUB_SED+="; \$a queue: { kind: rabbitmq, url: \"$VHOST_URL\" }"
eval "https_$(declare -f write_configs)"
write_configs() {
  https_write_configs
  printf 'amqp: { url: "%s", queue: postal.orders, prefetch: 32 }\n' "$VHOST_URL" >>"$E2E_DIR/postal-sim.yaml"
}
e2e_start
check "the first hub runs on PostgreSQL with the work queue" grep -q '"store":"postgres".*"queue":"amqp://' "$E2E_DIR/hub.log"
check "the simulator consumes the order queue" logged "$E2E_DIR/postal-sim.log" '"event":"postal_sim_consuming"'

# The second instance: the same configuration on ports of its own.
HUB1_PORT=$HUB_PORT
HUB2_PORT=$(free_port)
ADMIN2_PORT=$(free_port)
sed -e "s|port: $HUB_PORT|port: $HUB2_PORT|; s|port: $ADMIN_PORT|port: $ADMIN2_PORT|" "$E2E_DIR/hub.yaml" >"$E2E_DIR/hub2.yaml"
"$HUB_BIN" serve --config "$E2E_DIR/hub2.yaml" 2>>"$E2E_DIR/hub2.log" &
hub2_pid=$!
HUB_PORT=$HUB2_PORT wait_ready || fail "the second hub did not become ready"
on() { local port=$1; shift; HUB_PORT=$port "$@"; }  # on PORT post|get ...

# ---- every valid sample, to one hub or the other in turn
declare -A agency_of
ids=()
n=0
for file in "$E2E_ROOT"/samples/*/valid/*.xml "$E2E_ROOT"/samples/*/valid/*.json; do
  [[ $file == *.expected.json ]] && continue
  agency=$(basename "$(dirname "$(dirname "$file")")")
  port=$HUB1_PORT
  ((n++ % 2)) && port=$HUB2_PORT
  r=$(on "$port" post "$agency" "$file")
  if [[ $(code_of "$r") == 202 ]]; then
    for id in $(body_of "$r" | jq -r '.dossiers[].hub_id'); do ids+=("$id"); agency_of[$id]=$agency; done
  else
    fail "$agency $(basename "$file") to port $port: $(code_of "$r")"
  fi
done
pass "every valid sample accepted by one hub or the other (${#ids[@]} dossiers)"

# ---- the same key to both hubs at the same moment: one stores it
sample=$(ls "$E2E_ROOT"/samples/hcm-immigration/valid/*.json | grep -v expected | head -1)
posts=()
for k in 1 2 3 4 5; do
  on "$HUB1_PORT" post hcm-immigration "$sample" -H "Idempotency-Key: shared-$k" >"$E2E_DIR/a$k" &
  posts+=($!)
  on "$HUB2_PORT" post hcm-immigration "$sample" -H "Idempotency-Key: shared-$k" >"$E2E_DIR/b$k" &
  posts+=($!)
done
wait "${posts[@]}"  # the posts only: the hubs and the simulator run on
exactly_one() {
  local k firsts
  for k in 1 2 3 4 5; do
    firsts=$( (body_of "$(cat "$E2E_DIR/a$k")"; echo; body_of "$(cat "$E2E_DIR/b$k")") | jq -s '[.[] | select(.duplicate == false)] | length')
    [[ $firsts == 1 ]] || { echo "  key shared-$k: $firsts first answers"; return 1; }
    [[ "$(body_of "$(cat "$E2E_DIR/a$k")" | jq -c .dossiers)" == "$(body_of "$(cat "$E2E_DIR/b$k")" | jq -c .dossiers)" ]] ||
      { echo "  key shared-$k: different answers"; return 1; }
  done
}
check "one key sent to both hubs at once: one stores it, both answer the same" exactly_one
check "each shared key is stored once" test "$(sql "SELECT count(*) FROM messages WHERE idempotency_key LIKE 'shared-%'")" = 5

# ---- both dispatchers work the one outbox: everything delivered, each entry once
all_delivered=true
for id in "${ids[@]}"; do wait_status "${agency_of[$id]}" "$id" delivered 60 || all_delivered=false; done
check "every dossier reaches delivered" $all_delivered
# Two dispatchers, one outbox, no faults: an order or a callback sent twice would mean that both
# held the same entry.
sent_once() {
  ! grep -q '"event":"order_repeated"' "$E2E_DIR/postal-sim.log" &&
    ! grep -q '"event":"agency_callback".*"duplicate":"true"' "$E2E_DIR/postal-sim.log" &&
    [[ $(sql "SELECT count(*) FROM outbox") == 0 ]]
}
check "the postal core and the agencies got each order and callback once" sent_once
both_dispatched() {
  grep -q '"event":"dispatch".*"outcome":"delivered"' "$E2E_DIR/hub.log" &&
    grep -q '"event":"dispatch".*"outcome":"delivered"' "$E2E_DIR/hub2.log"
}
check "both hubs' dispatchers delivered entries" both_dispatched
check "the orders went through the postal core's queue" grep -q '"event":"dispatch".*"kind":"postal_order".*"outcome":"handed_over"' "$E2E_DIR"/hub*.log
check "both hubs read the same dossier" test \
  "$(body_of "$(on "$HUB1_PORT" get "${agency_of[${ids[0]}]}" "/v1/dossiers/${ids[0]}")" | jq -c .status)" = \
  "$(body_of "$(on "$HUB2_PORT" get "${agency_of[${ids[0]}]}" "/v1/dossiers/${ids[0]}")" | jq -c .status)"

# ---- one audit chain, written by both
verify=$("$HUB_BIN" audit verify --db "$DB_URL" 2>&1)
check "the one audit chain verifies: $verify" grep -q "audit chain intact" <<<"$verify"
check "the database URL is in no log" bash -c "! grep -q '$DB' '$E2E_DIR'/hub*.log"

kill "$hub2_pid" 2>/dev/null && wait "$hub2_pid" 2>/dev/null
cat "$E2E_DIR/hub2.log" >>"$E2E_DIR/hub.log"  # the sanitizer check and the failure report read hub.log
e2e_finish
