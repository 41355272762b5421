#!/usr/bin/env bash
# The hub service under load over mTLS (docs/performance.md, "Service: load over mTLS").
# A benchmark: it measures and prints, it asserts nothing. Everything on 127.0.0.1.
#
# Each run, in turn:
#   1. the physical limit: `load_bench bare` (the hub's own Beast listener and TLS context, a
#      handler answering 202 without work), loaded by `load_bench load`;
#   2. the hub: the postal core simulator and `dossier-hub serve` on a fresh store in a temporary
#      folder (configurations derived from samples/*.yaml, the rate limiter raised out of the way),
#      loaded the same way with one JSON agency's valid samples and its certificate, each request
#      a unique Idempotency-Key (so each is stored); the hub's RSS sampled every 5 s meanwhile;
#   3. end to end: orders journalled by the simulator per second, and the time the outbox takes
#      to drain once the load stops.
# Then a table of every run and the medians.
#
#   tests/bench/load_bench.sh                   (after building load_bench and dossier-hub)
#   LOAD_SECONDS=300 RUNS=1 tests/bench/load_bench.sh      (the memory question)
#
# Environment: LOAD_SECONDS (20), LOAD_CONNECTIONS (50), RUNS (3), WARMUP (2 s, inside the same
# connections, not recorded), LOAD_THREADS (1: the load generator's threads), AGENCY
# (hcm-immigration; or hcm-ward-lgsp), SIM_EVENT_STEP (the simulator's events.step, 2s as in the
# sample), DRAIN_MAX (600 s: give up waiting for the outbox), BUILD_DIR (build/release),
# LOAD_BENCH and HUB_BIN (the binaries), KEEP=1 keeps the temporary folder, SKIP_BARE=1 skips the
# bare server (the long memory run), POSTAL_DOWN=1 points the hub at a port where nothing listens
# (the postal core down for the whole run: accepts while the outbox only grows; no end to end).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build/release}
LOAD_BENCH=${LOAD_BENCH:-$build/tests/load_bench}
HUB_BIN=${HUB_BIN:-$build/dossier-hub}
LOAD_SECONDS=${LOAD_SECONDS:-20}
LOAD_CONNECTIONS=${LOAD_CONNECTIONS:-50}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-2}
LOAD_THREADS=${LOAD_THREADS:-1}
AGENCY=${AGENCY:-hcm-immigration}
SIM_EVENT_STEP=${SIM_EVENT_STEP:-2s}
DRAIN_MAX=${DRAIN_MAX:-600}
KEEP=${KEEP:-0}
POSTAL_DOWN=${POSTAL_DOWN:-0}

die() { echo "load_bench.sh: $*" >&2; exit 2; }
[[ -x $LOAD_BENCH ]] || die "$LOAD_BENCH is not built (target load_bench)"
[[ -x $HUB_BIN ]] || die "$HUB_BIN is not built (target dossier-hub)"
[[ -d $root/samples/$AGENCY/valid ]] || die "no samples for agency $AGENCY"
((LOAD_SECONDS >= 1 && LOAD_SECONDS <= 3600)) || die "LOAD_SECONDS must be 1..3600"
((LOAD_CONNECTIONS >= 1 && LOAD_CONNECTIONS <= 1000)) || die "LOAD_CONNECTIONS must be 1..1000"
((RUNS >= 1 && RUNS <= 9)) || die "RUNS must be 1..9"
((DRAIN_MAX >= 1 && DRAIN_MAX <= 3600)) || die "DRAIN_MAX must be 1..3600"
command -v python3 >/dev/null || die "python3 is needed (journal timestamps, medians)"
command -v curl >/dev/null || die "curl is needed"

"$root/certs/make-dev-certs.sh" >/dev/null
CERTS=$root/certs/dev
work=$(mktemp -d /tmp/dossier-hub-load.XXXXXX)  # a real disk here, not tmpfs: fsync costs what it costs
pids=()
sampler_pid=""
cleanup() {
  [[ -n $sampler_pid ]] && kill "$sampler_pid" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ $KEEP == 1 ]]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

source "$root/tests/bench/lib.sh"  # free_port, cpu_ticks, wait_https
stop() {  # stop PID: SIGTERM, wait, forget
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local keep=()
  for p in "${pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}
load() {  # load PORT AGENCY-CERT OUT.json BODY...
  local port=$1 who=$2 out=$3
  shift 3
  "$LOAD_BENCH" load --url "https://127.0.0.1:$port/v1/messages" --connections "$LOAD_CONNECTIONS" \
    --seconds "$LOAD_SECONDS" --warmup "$WARMUP" --threads "$LOAD_THREADS" --json \
    --cert "$CERTS/$who.crt" --key "$CERTS/$who.key" --ca "$CERTS/ca.crt" "$@" >"$out"
}
orders_in() { [[ -f $1 ]] && grep -c '^{"type":"order"' "$1" || echo 0; }

bodies=("$root/samples/$AGENCY/valid")
results=$work/results.tsv
echo -e "run\tbare_rate\tbare_p50\tbare_p99\thub_rate\thub_p50\thub_p99\tratio\thub_other\te2e_window\te2e_overall\tdrain_s\trss_first\trss_max\trss_last\tbare_cpu_us\thub_cpu_us\tsim_cpu_us\tload_cpu_us" >"$results"

echo "load_bench.sh: $RUNS run(s) of ${LOAD_SECONDS} s (+${WARMUP} s warm-up), $LOAD_CONNECTIONS connections," \
  "$LOAD_THREADS load thread(s), agency $AGENCY, simulator events.step $SIM_EVENT_STEP; $(nproc) cores"
for run in $(seq 1 "$RUNS"); do
  dir=$work/run-$run
  mkdir -p "$dir"

  # ---- 1. the bare server
  if [[ ${SKIP_BARE:-0} == 1 ]]; then
    echo '{"msgs_per_s":0,"p50_ms":0,"p99_ms":0,"accepted_total":0,"cpu_s":0}' >"$dir/bare.json"
    echo "0 0" >"$dir/bare.cpu"
  else
    port=$(free_port)
    "$LOAD_BENCH" bare --port "$port" --cert "$CERTS/hub.crt" --key "$CERTS/hub.key" --ca "$CERTS/ca.crt" \
      >"$dir/bare.log" 2>&1 &
    bare_pid=$!
    pids+=("$bare_pid")
    wait_https "$port" /healthz || die "the bare server did not start; see $dir/bare.log"
    c0=$(cpu_ticks "$bare_pid")
    load "$port" "$AGENCY" "$dir/bare.json" "${bodies[@]}"
    echo "$c0 $(cpu_ticks "$bare_pid")" >"$dir/bare.cpu"
    stop "$bare_pid"
  fi

  # ---- 2. the hub and the simulator, fresh store and journal
  HUB_PORT=$(free_port)
  ADMIN_PORT=$(free_port)
  SIM_PORT=$(free_port)
  POSTAL_PORT=$SIM_PORT
  [[ $POSTAL_DOWN == 1 ]] && POSTAL_PORT=$(free_port)  # nothing listens there
  sed -e "s|port: 8443|port: $HUB_PORT|; s|port: 8444|port: $ADMIN_PORT|" \
    -e "s|https://127.0.0.1:9443|https://127.0.0.1:$POSTAL_PORT|" \
    -e "s|\.\./certs/dev|$CERTS|g; s|\.\./mappings|$root/mappings|g" \
    -e "s|file: \.\./build/demo/dossier-hub.db|file: $dir/hub.db|" \
    -e "s|agency_rate: 500|agency_rate: 1000000|; s|agency_burst: 1000|agency_burst: 1000000|" \
    -e "s|max_connections: 1024|max_connections: 4096|" \
    "$root/samples/hub.yaml" >"$dir/hub.yaml"
  sed -e "s|9443|$SIM_PORT|; s|https://127.0.0.1:8443|https://127.0.0.1:$HUB_PORT|" \
    -e "s|\.\./certs/dev|$CERTS|g" -e "s|\.\./build/demo|$dir|g" \
    -e "s|step: 2s|step: $SIM_EVENT_STEP|" \
    "$root/samples/postal-sim.yaml" >"$dir/postal-sim.yaml"
  grep -q "agency_rate: 1000000" "$dir/hub.yaml" || die "samples/hub.yaml changed: cannot raise agency_rate"
  journal=$dir/postal-sim-orders.jsonl
  "$HUB_BIN" postal-sim --config "$dir/postal-sim.yaml" 2>"$dir/postal-sim.log" &
  sim_pid=$!
  pids+=("$sim_pid")
  "$HUB_BIN" serve --config "$dir/hub.yaml" 2>"$dir/hub.log" &
  hub_pid=$!
  pids+=("$hub_pid")
  wait_https "$HUB_PORT" /readyz || die "the hub did not start; see $dir/hub.log"
  wait_https "$SIM_PORT" /healthz || die "the simulator did not start; see $dir/postal-sim.log"

  # The hub's RSS every 5 s while the load runs (the first sample is taken just before it).
  (
    t0=$(date +%s)
    while kill -0 "$hub_pid" 2>/dev/null; do
      kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$hub_pid/status" 2>/dev/null || true)
      [[ -n $kb ]] && echo "$(($(date +%s) - t0)) $kb" >>"$dir/rss.txt"
      sleep 5
    done
  ) &
  sampler_pid=$!
  load_start=$(date +%s.%N)
  h0=$(cpu_ticks "$hub_pid") s0=$(cpu_ticks "$sim_pid")
  load "$HUB_PORT" "$AGENCY" "$dir/hub.json" "${bodies[@]}"
  echo "$h0 $(cpu_ticks "$hub_pid")" >"$dir/hub.cpu"
  echo "$s0 $(cpu_ticks "$sim_pid")" >"$dir/sim.cpu"
  load_end=$(date +%s.%N)
  kill "$sampler_pid" 2>/dev/null || true
  wait "$sampler_pid" 2>/dev/null || true
  sampler_pid=""

  # ---- 3. end to end: wait until every dossier the hub accepted has its order at the simulator
  expected=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dossiers_total"])' "$dir/hub.json")
  drain_deadline=$((SECONDS + DRAIN_MAX))
  while [[ $POSTAL_DOWN != 1 ]] && (($(orders_in "$journal") < expected && SECONDS < drain_deadline)); do
    sleep 0.5
  done
  drained_at=$(date +%s.%N)
  depth=$(curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk '/^dossier_hub_outbox_depth/ {print $2}')
  stop "$hub_pid"
  stop "$sim_pid"

  python3 - "$dir" "$load_start" "$load_end" "$drained_at" "$expected" "$WARMUP" "$run" "${depth:-?}" >>"$results" <<'EOF'
import json, re, sys, datetime
d, start, end, drained, expected, warmup, run, depth = sys.argv[1:]
start, end, drained, warmup = float(start), float(end), float(drained), float(warmup)
bare = json.load(open(f"{d}/bare.json"))
hub = json.load(open(f"{d}/hub.json"))
times = []
rx = re.compile(r'"received_at":"([^"]+)"')
with open(f"{d}/postal-sim-orders.jsonl", errors="replace") as f:
    for line in f:
        if line.startswith('{"type":"order"'):
            m = rx.search(line)
            if m:
                times.append(datetime.datetime.fromisoformat(m.group(1)).timestamp())
times.sort()
# Orders placed within the measured window (after the warm-up, until the load stopped).
w0, w1 = start + warmup, end
in_window = sum(1 for t in times if w0 <= t <= w1)
e2e_window = in_window / (w1 - w0) if w1 > w0 else 0
# Every order of the run, from the load's start to the last order (the drain included).
e2e_overall = len(times) / (times[-1] - start) if times else 0
drain = max(0.0, (times[-1] if len(times) >= int(expected) else drained) - end)
try:
    rss = [int(l.split()[1]) for l in open(f"{d}/rss.txt")]
except FileNotFoundError:
    rss = []
other = ",".join(f"{c}:{n}" for c, n in hub["codes"].items() if c != "202") or "-"
if hub["network_errors"]:
    other += f",net:{hub['network_errors']}"
if len(times) < int(expected):
    other += f",undrained:{int(expected)-len(times)}(depth {depth})"
ratio = hub["msgs_per_s"] / bare["msgs_per_s"] if bare["msgs_per_s"] else 0
mb = lambda kb: f"{kb/1024:.0f}"
# CPU per accepted request (user + system, over the whole load, warm-up included): what each
# process spends on one message, which the machine's noise moves far less than the rates.
import os
tick = os.sysconf("SC_CLK_TCK")
def per_msg(cpu_file, n):
    a, b = (int(x) for x in open(f"{d}/{cpu_file}").read().split())
    return (b - a) / tick / n * 1e6 if n else 0
bare_us = per_msg("bare.cpu", bare.get("accepted_total", 0))
hub_n = hub.get("accepted_total", 0)
hub_us, sim_us = per_msg("hub.cpu", hub_n), per_msg("sim.cpu", hub_n)
load_us = hub["cpu_s"] / hub_n * 1e6 if hub_n else 0
with open(f"{d}/rss-series.txt", "w") as out:
    out.write(" ".join(mb(k) for k in rss) + "\n")
print("\t".join(str(x) for x in [
    run, f"{bare['msgs_per_s']:.0f}", f"{bare['p50_ms']:.2f}", f"{bare['p99_ms']:.2f}",
    f"{hub['msgs_per_s']:.0f}", f"{hub['p50_ms']:.2f}", f"{hub['p99_ms']:.2f}", f"{ratio:.3f}", other,
    f"{e2e_window:.0f}", f"{e2e_overall:.0f}", f"{drain:.1f}",
    mb(rss[1] if len(rss) > 1 else rss[0]) if rss else "?", mb(max(rss)) if rss else "?", mb(rss[-1]) if rss else "?",
    f"{bare_us:.0f}", f"{hub_us:.0f}", f"{sim_us:.0f}", f"{load_us:.0f}"]))
EOF
  echo "  run $run: $(tail -1 "$results" | cut -f2-)"
  echo "    hub RSS (MB, every 5 s, the first before the load): $(cat "$dir/rss-series.txt")"
  [[ $KEEP == 1 ]] || rm -f "$dir"/hub.db* "$journal"
done

python3 - "$results" "$LOAD_SECONDS" "$LOAD_CONNECTIONS" <<'EOF'
import sys, statistics
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
head, rows = rows[0], rows[1:]
def med(i):
    try:
        return statistics.median(float(r[i]) for r in rows)
    except ValueError:
        return float("nan")
print(f"\n{'run':>6} {'bare msg/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'hub msg/s':>10} {'p50 ms':>7} {'p99 ms':>7}"
      f" {'hub/bare':>8} {'e2e ord/s':>9} {'e2e all':>8} {'drain s':>7} {'RSS MB first/max/last':>22}"
      f" {'CPU us/msg bare/hub/sim/load':>29}  hub other codes")
for r in rows:
    print(f"{r[0]:>6} {r[1]:>10} {r[2]:>7} {r[3]:>7} {r[4]:>10} {r[5]:>7} {r[6]:>7} {r[7]:>8} {r[9]:>9} {r[10]:>8}"
          f" {r[11]:>7} {r[12] + '/' + r[13] + '/' + r[14]:>22} {'/'.join(r[15:19]):>29}  {r[8]}")
if len(rows) > 1:
    m = [med(i) for i in range(len(head))]
    print(f"{'median':>6} {m[1]:>10.0f} {m[2]:>7.2f} {m[3]:>7.2f} {m[4]:>10.0f} {m[5]:>7.2f} {m[6]:>7.2f} {m[7]:>8.3f}"
          f" {m[9]:>9.0f} {m[10]:>8.0f} {m[11]:>7.1f} {f'{m[12]:.0f}/{m[13]:.0f}/{m[14]:.0f}':>22}"
          f" {f'{m[15]:.0f}/{m[16]:.0f}/{m[17]:.0f}/{m[18]:.0f}':>29}")
print(f"({sys.argv[2]} s measured per run, {sys.argv[3]} connections; e2e ord/s: orders journalled by the simulator"
      " within the measured window per second; e2e all: every order of the run over the time from the load's start"
      " to the last order; drain: from the end of the load to the last order; CPU us/msg: user+system CPU of the bare"
      " server, the hub, the simulator and the load generator (hub run) per accepted request)")
EOF
