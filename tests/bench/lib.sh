# Helpers shared by the benchmark scripts (load_bench.sh, shared_bench.sh); source it after CERTS
# is set. Benchmarks measure and print; nothing here asserts.

# A port free on loopback now: bind port 0 and let go.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# cpu_ticks PID: user + system CPU of a live process so far, in clock ticks (0 once it is gone).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# wait_https PORT PATH: until the server answers there over TLS (any status), at most 20 s.
wait_https() {
  for _ in $(seq 1 400); do
    curl -s -o /dev/null --cacert "$CERTS/ca.crt" "https://127.0.0.1:$1$2" && return 0
    sleep 0.05
  done
  return 1
}
