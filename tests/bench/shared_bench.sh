#!/usr/bin/env bash
# Shared mode against embedded mode, in one run on this machine (docs/performance.md, "Shared
# mode"). A benchmark: it measures and prints, it asserts nothing. Everything on 127.0.0.1.
#
# Each run, in turn, the same load (`load_bench load`: mTLS keep-alive connections posting
# hcm-immigration's valid samples, each request a unique Idempotency-Key) against:
#   embedded  one hub on SQLite, dispatching from its outbox (samples/hub.yaml as is);
#   shared-1  one hub on PostgreSQL with the RabbitMQ work queue;
#   shared-2  two such hubs behind haproxy (samples/shared/haproxy.cfg, TLS passthrough).
# Each with the postal core simulator, a fresh store and journal. It reports accepted messages/s,
# p50 and p99 latency, the orders the simulator journalled within the measured window per
# second, and the CPU the hubs spent per accepted message. Then the medians of every run.
#
#   tests/bench/shared_bench.sh       (after building; starts and stops PostgreSQL and RabbitMQ
#                                      with tests/servers/*.sh unless they already run)
#
# Environment: LOAD_SECONDS (15), LOAD_CONNECTIONS (50), RUNS (3), WARMUP (2), BUILD_DIR
# (build/release), DH_PG_URL, DH_AMQP_URL, KEEP=1 keeps the temporary folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build/release}
LOAD_BENCH=${LOAD_BENCH:-$build/tests/load_bench}
HUB_BIN=${HUB_BIN:-$build/dossier-hub}
LOAD_SECONDS=${LOAD_SECONDS:-15}
LOAD_CONNECTIONS=${LOAD_CONNECTIONS:-50}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-2}
PG_URL=${DH_PG_URL:-postgresql://postgres@127.0.0.1:55432/postgres}
AMQP_URL=${DH_AMQP_URL:-amqp://guest:guest@127.0.0.1:55672/}
AGENCY=hcm-immigration
servers=$root/tests/servers

die() { echo "shared_bench.sh: $*" >&2; exit 2; }
[[ -x $LOAD_BENCH && -x $HUB_BIN ]] || die "build first: cmake --workflow --preset release"
command -v haproxy >/dev/null || die "haproxy is needed (.ci/install-deps)"
"$root/certs/make-dev-certs.sh" >/dev/null
CERTS=$root/certs/dev
work=$(mktemp -d /tmp/dossier-hub-shared-bench.XXXXXX)
pids=()
started_pg=0 started_mq=0
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ((started_pg)) && "$servers/postgres.sh" stop >/dev/null 2>&1
  ((started_mq)) && "$servers/rabbitmq.sh" stop >/dev/null 2>&1
  if [[ ${KEEP:-0} == 1 ]]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql -q "$PG_URL" -c "SELECT 1" >/dev/null 2>&1 || { "$servers/postgres.sh" start >/dev/null && started_pg=1; }
"$servers/rabbitmq.sh" ctl status >/dev/null 2>&1 || { "$servers/rabbitmq.sh" start >/dev/null && started_mq=1; }

source "$root/tests/bench/lib.sh"  # free_port, cpu_ticks, wait_https

# hub_config DIR NAME PORT ADMIN SIM_PORT STORE_SED: a configuration derived from samples/hub.yaml.
hub_config() {
  sed -e "s|port: 8443|port: $3|; s|port: 8444|port: $4|" -e "s|https://127.0.0.1:9443|https://127.0.0.1:$5|" \
    -e "s|\.\./certs/dev|$CERTS|g; s|\.\./mappings|$root/mappings|g" \
    -e "s|file: \.\./build/demo/dossier-hub.db|file: $1/hub.db|" \
    -e "s|agency_rate: 500|agency_rate: 1000000|; s|agency_burst: 1000|agency_burst: 1000000|" \
    -e "s|max_connections: 1024|max_connections: 4096|" -e "$6" \
    "$root/samples/hub.yaml" >"$1/$2.yaml"
}

results=$work/results.tsv
: >"$results"
echo "shared_bench.sh: $RUNS run(s) of ${LOAD_SECONDS} s (+${WARMUP} s warm-up), $LOAD_CONNECTIONS connections;" \
  "$(nproc) cores; PostgreSQL and RabbitMQ on this machine too"
for run in $(seq 1 "$RUNS"); do
  for mode in embedded shared-1 shared-2; do
    dir=$work/run-$run-$mode
    mkdir -p "$dir"
    sim_port=$(free_port)
    sed -e "s|9443|$sim_port|; s|\.\./certs/dev|$CERTS|g" -e "s|\.\./build/demo|$dir|g" \
      "$root/samples/postal-sim.yaml" >"$dir/postal-sim.yaml"
    store_sed='s|^$||'
    if [[ $mode != embedded ]]; then
      db="dh_bench_$$_${run}_${mode/-/_}"
      psql -q "$PG_URL" -c "CREATE DATABASE $db" >/dev/null
      vhost="dh-bench-$$-$run-$mode"
      "$servers/rabbitmq.sh" ctl add_vhost "$vhost" >/dev/null
      "$servers/rabbitmq.sh" ctl set_permissions -p "$vhost" guest ".*" ".*" ".*" >/dev/null
      store_sed="s#kind: sqlite#kind: postgres#; s#file: .*hub.db#url: ${PG_URL%/*}/$db#; \$a queue: { kind: rabbitmq, url: \"${AMQP_URL%/}/$vhost\" }"
    fi
    instances=1
    [[ $mode == shared-2 ]] && instances=2
    hub_pids=()
    ports=()
    for i in $(seq 1 "$instances"); do
      port=$(free_port)
      hub_config "$dir" "hub$i" "$port" "$(free_port)" "$sim_port" "$store_sed"
      ports+=("$port")
    done
    entry=${ports[0]}
    if ((instances == 2)); then
      entry=$(free_port)
      sed -e "s|bind 127.0.0.1:8443|bind 127.0.0.1:$entry|; s|127.0.0.1:8453|127.0.0.1:${ports[0]}|; s|127.0.0.1:8463|127.0.0.1:${ports[1]}|" \
        "$root/samples/shared/haproxy.cfg" >"$dir/haproxy.cfg"
    fi
    sed -i "s|https://127.0.0.1:8443|https://127.0.0.1:$entry|" "$dir/postal-sim.yaml"
    "$HUB_BIN" postal-sim --config "$dir/postal-sim.yaml" 2>"$dir/postal-sim.log" &
    sim_pid=$!
    pids+=("$sim_pid")
    for i in $(seq 1 "$instances"); do
      "$HUB_BIN" serve --config "$dir/hub$i.yaml" 2>"$dir/hub$i.log" &
      hub_pids+=($!)
      pids+=($!)
      wait_https "${ports[$((i - 1))]}" /readyz || die "hub $i of $mode did not start; see $dir/hub$i.log"
    done
    if ((instances == 2)); then
      haproxy -f "$dir/haproxy.cfg" 2>"$dir/haproxy.log" &
      pids+=($!)
      wait_https "$entry" /readyz || die "haproxy did not start; see $dir/haproxy.log"
    fi
    c0=0
    for p in "${hub_pids[@]}"; do c0=$((c0 + $(cpu_ticks "$p"))); done
    start=$(date +%s.%N)
    "$LOAD_BENCH" load --url "https://127.0.0.1:$entry/v1/messages" --connections "$LOAD_CONNECTIONS" \
      --seconds "$LOAD_SECONDS" --warmup "$WARMUP" --threads 1 --json --cert "$CERTS/$AGENCY.crt" \
      --key "$CERTS/$AGENCY.key" --ca "$CERTS/ca.crt" "$root/samples/$AGENCY/valid" >"$dir/load.json"
    end=$(date +%s.%N)
    c1=0
    for p in "${hub_pids[@]}"; do c1=$((c1 + $(cpu_ticks "$p"))); done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
    python3 - "$dir" "$mode" "$run" "$start" "$end" "$WARMUP" "$c0" "$c1" >>"$results" <<'EOF'
import json, os, re, sys, datetime
d, mode, run, start, end, warmup, c0, c1 = sys.argv[1:]
start, end, warmup, c0, c1 = float(start), float(end), float(warmup), int(c0), int(c1)
j = json.load(open(f"{d}/load.json"))
rx = re.compile(r'"received_at":"([^"]+)"')
w0, w1 = start + warmup, end
orders = 0
with open(f"{d}/postal-sim-orders.jsonl", errors="replace") as f:
    for line in f:
        if line.startswith('{"type":"order"'):
            m = rx.search(line)
            if m and w0 <= datetime.datetime.fromisoformat(m.group(1)).timestamp() <= w1:
                orders += 1
n = j.get("accepted_total", 0)
cpu_us = (c1 - c0) / os.sysconf("SC_CLK_TCK") / n * 1e6 if n else 0
other = ",".join(f"{c}:{k}" for c, k in j["codes"].items() if c != "202") or "-"
print("\t".join([run, mode, f"{j['msgs_per_s']:.0f}", f"{j['p50_ms']:.2f}", f"{j['p99_ms']:.2f}",
                 f"{orders / (w1 - w0):.0f}", f"{cpu_us:.0f}", other]))
EOF
    echo "  run $run $(tail -1 "$results" | cut -f2- | tr '\t' ' ')"
  done
done

python3 - "$results" "$LOAD_SECONDS" "$LOAD_CONNECTIONS" <<'EOF'
import sys, statistics
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
print(f"\n{'mode':>9} {'msg/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'orders/s':>9} {'hub CPU us/msg':>15}  (median of {len({r[0] for r in rows})} runs)")
for mode in ["embedded", "shared-1", "shared-2"]:
    rs = [r for r in rows if r[1] == mode]
    med = lambda i: statistics.median(float(r[i]) for r in rs)
    print(f"{mode:>9} {med(2):>8.0f} {med(3):>7.2f} {med(4):>7.2f} {med(5):>9.0f} {med(6):>15.0f}  other codes: {' '.join(r[7] for r in rs)}")
print(f"({sys.argv[2]} s measured per run, {sys.argv[3]} connections; orders/s: orders the simulator journalled within the"
      " measured window; hub CPU: user+system of every hub instance per accepted request)")
EOF
