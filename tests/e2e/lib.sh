# Shared by the end-to-end tests: start the real hub and the postal core simulator on free
# loopback ports in a temporary folder, talk to them over mTLS with curl, stop them.
# Every test sources this, calls e2e_start, and ends with e2e_finish. A test that edits mappings
# copies them (copy_mappings) before e2e_start.
set -uo pipefail
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HUB_BIN=${HUB_BIN:?set HUB_BIN to the dossier-hub binary}
E2E_DIR=$(mktemp -d /tmp/dossier-hub-e2e.XXXXXX)
CERTS=$E2E_ROOT/certs/dev
failures=0
hub_pid=""
sim_pid=""

fail() { echo "FAIL $*"; failures=$((failures + 1)); }
pass() { echo "ok   $*"; }
check() {  # check NAME CONDITION...
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

free_port() {
  # Bind port 0 and let go: the kernel's choice is free on loopback for the next moments.
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000))
}

write_configs() {
  HUB_PORT=${HUB_PORT:-$(free_port)}
  ADMIN_PORT=${ADMIN_PORT:-$(free_port)}
  SIM_PORT=${SIM_PORT:-$(free_port)}
  sed -e "s|port: 8443|port: $HUB_PORT|; s|port: 8444|port: $ADMIN_PORT|" \
      -e "s|https://127.0.0.1:9443|https://127.0.0.1:$SIM_PORT|" \
      -e "s|\.\./certs/dev|$CERTS|g; s|\.\./mappings|${E2E_MAPPINGS:-$E2E_ROOT/mappings}|g" \
      -e "s|file: \.\./build/demo/dossier-hub.db|file: $E2E_DIR/hub.db|" \
      -e "s|agency_rate: 500|agency_rate: ${E2E_AGENCY_RATE:-5000}|; s|agency_burst: 1000|agency_burst: ${E2E_AGENCY_BURST:-10000}|" \
      -e "${E2E_HUB_SED:-s|^$||}" \
      "$E2E_ROOT/samples/hub.yaml" >"$E2E_DIR/hub.yaml"
  sed -e "s|9443|$SIM_PORT|; s|https://127.0.0.1:8443|https://127.0.0.1:$HUB_PORT|" \
      -e "s|\.\./certs/dev|$CERTS|g" -e "s|\.\./build/demo|$E2E_DIR|g" \
      "$E2E_ROOT/samples/postal-sim.yaml" >"$E2E_DIR/postal-sim.yaml"
}

start_sim() {
  "$HUB_BIN" postal-sim --config "$E2E_DIR/postal-sim.yaml" 2>>"$E2E_DIR/postal-sim.log" &
  sim_pid=$!
}
start_hub() {
  "$HUB_BIN" serve --config "$E2E_DIR/hub.yaml" 2>>"$E2E_DIR/hub.log" &
  hub_pid=$!
  wait_ready
}
wait_ready() {  # up to 60 s (a sanitized build starts slowly), less if the hub exits
  for _ in $(seq 1 1200); do
    curl -s --cacert "$CERTS/ca.crt" -o /dev/null "https://127.0.0.1:$HUB_PORT/readyz" && return 0
    if ! kill -0 "$hub_pid" 2>/dev/null; then
      echo "the hub exited before it was ready; log:"; tail -20 "$E2E_DIR/hub.log"
      return 1
    fi
    sleep 0.05
  done
  echo "the hub did not become ready; log:"; tail -20 "$E2E_DIR/hub.log"
  return 1
}
e2e_start() {
  "$E2E_ROOT/certs/make-dev-certs.sh" >/dev/null 2>&1
  write_configs
  start_sim
  if ! start_hub; then
    fail "the hub started"
    e2e_finish
  fi
}
# logged FILE PATTERN [SECONDS]: whether a line matching PATTERN appears in FILE within SECONDS
# (10): for what a process logs once it is up, which a sanitized build may take a while to reach.
logged() {
  local deadline=$((SECONDS + ${3:-10}))
  until grep -q "$2" "$1" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}
stop_hub() { [[ -n $hub_pid ]] && kill "$hub_pid" 2>/dev/null && wait "$hub_pid" 2>/dev/null; hub_pid=""; }
e2e_finish() {
  stop_hub
  [[ -n $sim_pid ]] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  # Under the asan preset the processes report memory errors, leaks and undefined behaviour on
  # standard error: any such report fails the test.
  if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$E2E_DIR"/*.log 2>/dev/null; then
    fail "a sanitizer reported an error in the hub or the simulator:"
    grep -hE -A12 "ERROR: (Address|Leak)Sanitizer|runtime error:" "$E2E_DIR"/*.log | head -40
  fi
  echo "$(basename "$0"): $failures failure(s)"
  if ((failures > 0)); then
    echo "--- hub log (last 30 lines)"; tail -30 "$E2E_DIR/hub.log"
    echo "--- simulator log (last 10 lines)"; tail -10 "$E2E_DIR/postal-sim.log"
  else
    rm -rf "$E2E_DIR"
  fi
  exit $((failures > 0))
}

# post AGENCY FILE [extra curl args...]: prints the body, then the status code on the last line.
post() {
  local agency=$1 file=$2
  shift 2
  local type=application/json
  [[ $file == *.xml ]] && type=application/xml
  curl -s --cacert "$CERTS/ca.crt" --cert "$CERTS/$agency.crt" --key "$CERTS/$agency.key" \
    -H "Content-Type: $type" --data-binary "@$file" -w '\n%{http_code}' "$@" "https://127.0.0.1:$HUB_PORT/v1/messages"
}
# get AGENCY PATH: prints the body, then the status code on the last line.
get() {
  curl -s --cacert "$CERTS/ca.crt" --cert "$CERTS/$1.crt" --key "$CERTS/$1.key" -w '\n%{http_code}' \
    "https://127.0.0.1:$HUB_PORT$2"
}
# copy_mappings: the hub reads a copy of mappings/ in the test's folder (E2E_MAPPINGS), for tests
# that change a mapping while it runs.
copy_mappings() {
  E2E_MAPPINGS=$E2E_DIR/mappings
  cp -r "$E2E_ROOT/mappings" "$E2E_MAPPINGS"
}

# make_messages N DIR [FIRST]: N distinct hcm-immigration messages in DIR (m00000.json, ...), each
# with its own dossier code and message id, numbered from FIRST (1).
make_messages() {
  local n=$1 dir=$2 first=${3:-1}
  mkdir -p "$dir"
  jq -c --argjson first "$first" --argjson n "$n" '. as $t | range($first; $first + $n) as $i
      | ($i | tostring) as $s
      | $t | .hoSo.maHoSo = "000.00.15.H29-251130-" + ("0000" + $s)[-4:]
      | .maThongDiep = "7c1e2a4b-3f5d-4e8a-9b61-" + ("000000000000" + $s)[-12:]' \
    "$E2E_ROOT/samples/hcm-immigration/valid/01-ho-chieu-dia-chi-cu.json" |
    split -l 1 -d -a 5 --additional-suffix=.json - "$dir/m"
}

# post_many AGENCY DIR [PARALLEL]: posts every file in DIR over kept-alive connections (curl
# --parallel, PARALLEL at a time, 4 unless said); prints one HTTP status per message (000 for no
# answer).
post_many() {
  local agency=$1 dir=$2 parallel=${3:-4} f type
  local config=$E2E_DIR/post-many.$BASHPID.curl
  : >"$config"
  for f in "$dir"/*; do
    type=application/json
    [[ $f == *.xml ]] && type=application/xml
    [[ -s $config ]] && echo next >>"$config"
    printf 'url = "https://127.0.0.1:%s/v1/messages"\ncacert = "%s"\ncert = "%s"\nkey = "%s"\nheader = "Content-Type: %s"\ndata-binary = "@%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\nmax-time = 20\n' \
      "$HUB_PORT" "$CERTS/ca.crt" "$CERTS/$agency.crt" "$CERTS/$agency.key" "$type" "$f" >>"$config"
  done
  # curl's parallel progress meter ignores --silent: its standard error goes to a log.
  curl --silent --show-error --parallel --parallel-max "$parallel" -K "$config" 2>>"$E2E_DIR/post-many.log"
  rm -f "$config"
}
# holds FILTER: whether jq's FILTER is true of standard input, printing nothing (for check).
holds() { jq -e "$1" >/dev/null; }
code_of() { tail -n1 <<<"$1"; }
body_of() { sed '$d' <<<"$1"; }
admin() { curl -s -w '\n%{http_code}' "$@"; }
admin_url() { echo "http://127.0.0.1:$ADMIN_PORT$1"; }

# wait_status AGENCY HUB_ID STATUS SECONDS
wait_status() {
  local deadline=$((SECONDS + $4)) s=""
  while ((SECONDS < deadline)); do
    s=$(body_of "$(get "$1" "/v1/dossiers/$2")" | jq -r '.status' 2>/dev/null)
    [[ $s == "$3" ]] && return 0
    sleep 0.2
  done
  echo "  $2 is $s, not $3"
  return 1
}
