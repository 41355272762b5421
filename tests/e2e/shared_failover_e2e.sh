#!/usr/bin/env bash
# Shared mode under failure: two hub instances on one PostgreSQL and one RabbitMQ, behind haproxy
# (samples/shared/haproxy.cfg, TLS passthrough), under load through haproxy. In turn: SIGKILL one
# instance mid-load (then start it again); restart RabbitMQ mid-load; restart PostgreSQL mid-load
# (the hubs answer 503 with Retry-After meanwhile and recover without a restart). Then: every
# message that got a 202 reached the postal simulator exactly once per idempotency key, and every
# dossier's status history is whole and in order.
# Needs the `pg` and `amqp` servers (tests/servers/*.sh; DH_PG_URL, DH_AMQP_URL) and haproxy.
source "$(dirname "$0")/lib.sh"
PG_URL=${DH_PG_URL:-postgresql://postgres@127.0.0.1:55432/postgres}
AMQP_URL=${DH_AMQP_URL:-amqp://guest:guest@127.0.0.1:55672/}
SENDERS=${FAILOVER_SENDERS:-3}
PER_PHASE=${FAILOVER_MESSAGES:-100}  # per sender and phase
SERVERS=$E2E_ROOT/tests/servers

command -v haproxy >/dev/null || { echo "FAIL haproxy is not installed (.ci/install-deps)"; exit 1; }
DB="dh_e2e_failover_$$"
DB_URL="${PG_URL%/*}/$DB"
psql -q "$PG_URL" -c "CREATE DATABASE $DB" || { echo "FAIL cannot create the test database"; exit 1; }
# A vhost of its own: its queues meet no other test's. It is left in place (the test broker is
# thrown away with its state), because deleting quorum queues right after a broker restart trips a
# RabbitMQ 3.10 bug (docs/operations.md).
VHOST="dh-e2e-failover-$$"
"$SERVERS/rabbitmq.sh" ctl add_vhost "$VHOST" >/dev/null || { echo "FAIL cannot add a vhost"; exit 1; }
"$SERVERS/rabbitmq.sh" ctl set_permissions -p "$VHOST" guest ".*" ".*" ".*" >/dev/null
haproxy_pid=""
hub2_pid=""
cleanup() {
  [[ -n $haproxy_pid ]] && kill "$haproxy_pid" 2>/dev/null
  [[ -n $hub2_pid ]] && kill "$hub2_pid" 2>/dev/null
  psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
}
trap cleanup EXIT

# Two instances: the demo configuration on PostgreSQL with the work queue, ports of their own.
LB_PORT=$(free_port)
HUB_PORT=$(free_port)
HUB2_PORT=$(free_port)
ADMIN2_PORT=$(free_port)
E2E_HUB_SED="s#kind: sqlite#kind: postgres#; s#file: .*hub.db#url: $DB_URL#; \$a queue: { kind: rabbitmq, url: \"${AMQP_URL%/}/$VHOST\" }"
write_configs
ADMIN1_PORT=$ADMIN_PORT
HUB1_PORT=$HUB_PORT
sed -e "s|port: $HUB1_PORT|port: $HUB2_PORT|; s|port: $ADMIN1_PORT|port: $ADMIN2_PORT|" "$E2E_DIR/hub.yaml" >"$E2E_DIR/hub2.yaml"
# The simulator pushes its status events through haproxy too, as the postal core would.
sed -i "s|https://127.0.0.1:$HUB1_PORT|https://127.0.0.1:$LB_PORT|" "$E2E_DIR/postal-sim.yaml"
start_sim
start_hub || { fail "hub A started"; e2e_finish; }
start_hub2() {
  "$HUB_BIN" serve --config "$E2E_DIR/hub2.yaml" 2>>"$E2E_DIR/hub2.log" &
  hub2_pid=$!
  HUB_PORT=$HUB2_PORT hub_pid=$hub2_pid wait_ready
}
start_hub2 || { fail "hub B started"; e2e_finish; }
check "hub A runs on PostgreSQL with the work queue" grep -q '"store":"postgres".*"queue":"amqp://' "$E2E_DIR/hub.log"

# haproxy with the sample configuration: only its ports are this test's.
sed -e "s|bind 127.0.0.1:8443|bind 127.0.0.1:$LB_PORT|; s|127.0.0.1:8453|127.0.0.1:$HUB1_PORT|; s|127.0.0.1:8463|127.0.0.1:$HUB2_PORT|" \
  "$E2E_ROOT/samples/shared/haproxy.cfg" >"$E2E_DIR/haproxy.cfg"
haproxy -f "$E2E_DIR/haproxy.cfg" 2>>"$E2E_DIR/haproxy.log" &
haproxy_pid=$!
HUB_PORT=$LB_PORT hub_pid=$haproxy_pid wait_ready || { fail "haproxy forwards to the hubs"; e2e_finish; }

template=$E2E_ROOT/samples/hcm-immigration/valid/01-ho-chieu-dia-chi-cu.json
accepted=$E2E_DIR/accepted.tsv  # dossier code, hub_id: every 202
answers=$E2E_DIR/answers.txt    # status code and Retry-After of every answer that was not 202
: >"$accepted"
: >"$answers"
# One sender: unique message ids and dossier codes, through haproxy.
send() {  # send FIRST LAST
  local i code r headers
  for i in $(seq "$1" "$2"); do
    code=$(printf '000.00.15.H29-251201-%05d' "$i")
    jq --arg c "$code" --arg m "$(printf 'f41e2a4b-3f5d-4e8a-9b61-%012d' "$i")" \
      '.hoSo.maHoSo = $c | .maThongDiep = $m' "$template" >"$E2E_DIR/m$i.json"
    headers=$E2E_DIR/h$i.txt
    r=$(HUB_PORT=$LB_PORT post hcm-immigration "$E2E_DIR/m$i.json" --max-time 10 -D "$headers" 2>/dev/null)
    if [[ $(code_of "$r") == 202 ]]; then
      echo -e "$code\t$(body_of "$r" | jq -r '.dossiers[0].hub_id')" >>"$accepted"
    else
      echo "$(code_of "$r") $(grep -i '^retry-after:' "$headers" | tr -d '\r' | awk '{print $2}')" >>"$answers"
    fi
    rm -f "$E2E_DIR/m$i.json" "$headers"
  done
}
n=0
phase() {  # phase NAME FAULT...: the senders run, the fault strikes after a moment
  local name=$1 pids=() s
  shift
  for s in $(seq 1 "$SENDERS"); do
    send $((n + (s - 1) * PER_PHASE + 1)) $((n + s * PER_PHASE)) &
    pids+=($!)
  done
  sleep 1.5
  echo "  $name"
  "$@"
  wait "${pids[@]}"
  n=$((n + SENDERS * PER_PHASE))
}

kill_hub_a() {
  kill -9 "$hub_pid"
  wait "$hub_pid" 2>/dev/null
  sleep 2
  HUB_PORT=$HUB1_PORT start_hub || fail "hub A started again after SIGKILL"
}
phase "SIGKILL hub A mid-load, then start it again" kill_hub_a
phase "restart RabbitMQ mid-load" "$SERVERS/rabbitmq.sh" restart
hub_a=$hub_pid hub_b=$hub2_pid
: >"$answers"
phase "restart PostgreSQL mid-load" "$SERVERS/postgres.sh" restart
both_alive() { kill -0 "$hub_a" && kill -0 "$hub_b"; }
check "both hubs outlived the database restart (no restart of theirs)" both_alive
unavailable=$(awk '$1 == 503' "$answers" | wc -l)
without_retry_after=$(awk '$1 == 503 && $2 == ""' "$answers" | wc -l)
other=$(awk '$1 != 503 && $1 != "000"' "$answers" | wc -l)
echo "  while the database restarted: $unavailable answers 503, $(awk '$1 == "000"' "$answers" | wc -l) without answer"
check "every 503 carried Retry-After (missing: $without_retry_after)" test "$without_retry_after" -eq 0
check "no answer but 202 or 503 while the database restarted (others: $other)" test "$other" -eq 0
# Recovered without a restart: a last batch, all accepted.
before=$(wc -l <"$accepted")
send $((n + 1)) $((n + 20))
n=$((n + 20))
check "after the restarts every message is accepted again" test $(($(wc -l <"$accepted") - before)) -eq 20

acked=$(cut -f1 "$accepted" | sort -u | wc -l)
check "messages were accepted across the failures ($acked of $n)" test "$acked" -gt $((n / 2))
orders=$E2E_DIR/postal-sim-orders.jsonl
ordered_codes() { jq -r 'select(.type == "order") | .order.dossier_code' "$orders" 2>/dev/null; }
deadline=$((SECONDS + 240))
while ((SECONDS < deadline)); do
  ordered=$(ordered_codes | sort -u | grep -cxF -f <(cut -f1 "$accepted" | sort -u) || true)
  ((ordered >= acked)) && break
  sleep 1
done
missing=$(comm -23 <(cut -f1 "$accepted" | sort -u) <(ordered_codes | sort -u) | wc -l)
check "every acknowledged message reached the postal core (missing: $missing)" test "$missing" -eq 0
dups=$(ordered_codes | sort | uniq -d | wc -l)
check "no dossier was ordered twice (duplicates: $dups)" test "$dups" -eq 0

# Status histories: every event the simulator planned for the order is in the dossier's history,
# once, in the order it happened, beside the hub's own one move to ordered (event id
# hub:ordered:<order>), and the dossier ends where the plan ends. All dossiers are read
# through the load balancer in one kept-alive curl; those not yet whole are read again until the
# deadline (events may still be arriving).
jq -s 'map(select(.type == "order") | {key: .order.dossier_code, value: {last: .plan[-1].status, n: (.plan | length)}})
       | from_entries' "$orders" >"$E2E_DIR/plans.json"
# unwhole FILE_OF_HUB_IDS: prints the hub_id and {status, history} of each dossier not (yet) whole,
# and one line "unread N" when N of the dossiers got no answer at all.
unwhole() {
  sed "s|.*|url = \"https://127.0.0.1:$LB_PORT/v1/dossiers/&\"|" "$1" >"$E2E_DIR/histories.curl"
  curl -s --cacert "$CERTS/ca.crt" --cert "$CERTS/hcm-immigration.crt" --key "$CERTS/hcm-immigration.key" \
    -K "$E2E_DIR/histories.curl" |
    jq -r --slurpfile plans "$E2E_DIR/plans.json" '
      ($plans[0][.dossier.dossier_code? // ""] // {last: "?", n: -1}) as $want
      | [(.history // [])[] | select(.event_id | startswith("hub:") | not)] as $postal
      | [$postal[].event_id] as $ids
      | [$postal[].occurred_at] as $at
      | [(.history // [])[] | select(.event_id | startswith("hub:ordered:"))] as $ordered
      | if (.status == $want.last) and ($ids | length) == $want.n and ($ids | unique | length) == $want.n
           and $at == ($at | sort) and ($ordered | length) == 1 then "whole"
        else "\(.dossier.hub_id? // "?")\t\({status, history: [(.history // [])[] | .status]} | tojson)" end' \
      >"$E2E_DIR/histories.out"
  local unread=$(($(wc -l <"$1") - $(wc -l <"$E2E_DIR/histories.out")))
  grep -v '^whole$' "$E2E_DIR/histories.out"
  ((unread == 0)) || echo "unread $unread"
}
cut -f2 "$accepted" | sort -u >"$E2E_DIR/to-check"
checked=$(wc -l <"$E2E_DIR/to-check")
deadline=$((SECONDS + 120))
while :; do
  unwhole "$E2E_DIR/to-check" >"$E2E_DIR/unwhole"
  [[ -s $E2E_DIR/unwhole ]] && ((SECONDS < deadline)) || break
  # Dossiers that got no answer are not known by name: read them all again.
  if grep -q '^unread ' "$E2E_DIR/unwhole"; then cut -f2 "$accepted" | sort -u; else cut -f1 "$E2E_DIR/unwhole"; fi \
    >"$E2E_DIR/to-check.next"
  mv "$E2E_DIR/to-check.next" "$E2E_DIR/to-check"
  sleep 1
done
broken=$(wc -l <"$E2E_DIR/unwhole")
sed 's/^/  /' "$E2E_DIR/unwhole" | head -20
check "every dossier's status history is whole and in order ($checked checked, broken: $broken)" test "$broken" -eq 0
check "the audit chain is one and intact" test "$(code_of "$(admin "$(admin_url /admin/audit/verify)")")" = 200

kill "$haproxy_pid" 2>/dev/null
wait "$haproxy_pid" 2>/dev/null
haproxy_pid=""
kill "$hub2_pid" 2>/dev/null
wait "$hub2_pid" 2>/dev/null
hub2_pid=""
e2e_finish  # also reads hub2.log for sanitizer reports
