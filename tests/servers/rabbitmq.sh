#!/usr/bin/env bash
# A RabbitMQ broker of the tests' own (docs/development.md, "Test tiers"), for the amqp-labelled
# tests and the shared-mode failure tests: `rabbitmq.sh start|stop|restart|status|ctl ARGS...`
# (ctl: rabbitmqctl against this broker, e.g. `rabbitmq.sh ctl list_queues name type`).
#
# Everything it writes lives under ${DH_SERVERS_DIR:-/tmp/dossier-hub-servers}/rabbitmq (data,
# logs, pid file, Erlang cookie, configuration); nothing under /var/lib/rabbitmq or /etc. It listens
# on loopback only, AMQP on ${DH_AMQP_PORT:-55672}, under a node name of its own, with an epmd of its
# own (port ${DH_EPMD_PORT:-54369}), so it neither meets nor stops a broker someone else runs.
# start is idempotent, and a broker it starts begins empty (the data of an earlier run is removed,
# so that nothing a crashed test left behind accumulates); stop leaves nothing running; restart
# stops and starts again keeping the data (queues, messages): the failure tests' broker restart.
# Runs as the calling user (root in CI) with the broker's own scripts, not Debian's wrapper, which
# would switch to the rabbitmq user and its home.
set -euo pipefail

dir="${DH_SERVERS_DIR:-/tmp/dossier-hub-servers}/rabbitmq"
port="${DH_AMQP_PORT:-55672}"
dist_port="${DH_AMQP_DIST_PORT:-$((port + 1000))}"  # Erlang distribution (rabbitmqctl talks to it)
epmd_port="${DH_EPMD_PORT:-54369}"
node="${DH_AMQP_NODE:-dossier-hub-test}@localhost"
bin="${RABBITMQ_BIN:-/usr/lib/rabbitmq/bin}"
pidfile="$dir/rabbit.pid"

export HOME="$dir/home"  # the Erlang cookie, shared by the server and rabbitmqctl
export ERL_EPMD_PORT="$epmd_port"
export ERL_EPMD_ADDRESS=127.0.0.1
export ERL_CRASH_DUMP="$dir/log/erl_crash.dump"
export RABBITMQ_NODENAME="$node"
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT="$port"
export RABBITMQ_DIST_PORT="$dist_port"
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_MNESIA_BASE="$dir/mnesia"
export RABBITMQ_LOG_BASE="$dir/log"
export RABBITMQ_PID_FILE="$pidfile"
export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
export RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"  # not /etc/rabbitmq's

ctl() { "$bin/rabbitmqctl" -n "$node" "$@"; }
say() { echo "rabbitmq.sh: $*" >&2; }

running() { ctl ping >/dev/null 2>&1; }

# A broker of ours that rabbitmqctl cannot reach (its state folder, with the cookie and the pid
# file, was removed under it): the process listening on our ports whose node name is ours.
orphan_pid() {
  local p pid
  for p in "$port" "$dist_port"; do
    pid=$(ss -ltnpH "sport = :$p" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)
    if [[ -n $pid ]] && tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "RABBITMQ_NODENAME=$node"; then
      echo "$pid"
      return
    fi
  done
}

kill_pid() {
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

write_config() {
  install -d -m 700 "$dir" "$HOME" "$dir/log" "$dir/mnesia"
  : >"$RABBITMQ_CONF_ENV_FILE"
  echo '[].' >"$RABBITMQ_ENABLED_PLUGINS_FILE"  # no plugins: the tests need AMQP only
  echo '[].' >"$RABBITMQ_ADVANCED_CONFIG_FILE"
  cat >"$RABBITMQ_CONFIG_FILE" <<CONF
listeners.tcp.1 = 127.0.0.1:$port
# guest/guest, from loopback only (the broker's default, said out loud)
loopback_users.guest = true
log.console = false
log.file.level = info
# a test machine's disk is not a production disk: do not block publishers at 2 GB free
disk_free_limit.absolute = 100MB
CONF
}

start() {
  local keep_data=${1:-no}
  if running; then
    say "already running ($node, amqp://127.0.0.1:$port)"
    return 0
  fi
  if [[ $keep_data != keep ]]; then rm -rf "$dir/mnesia"; fi
  local orphan
  orphan=$(orphan_pid)
  if [[ -n $orphan ]]; then
    say "a broker of ours (pid $orphan) runs but cannot be reached (its state folder was removed?): stopping it"
    kill_pid "$orphan"
  fi
  write_config
  # a pid file left by a killed broker would make `wait` watch a dead or recycled pid
  rm -f "$pidfile"
  local t0=$SECONDS
  "$bin/rabbitmq-server" -detached >>"$dir/log/startup.log" 2>&1
  if ! ctl wait --timeout 60 "$pidfile" >>"$dir/log/startup.log" 2>&1; then
    say "the broker did not start within 60 s; the end of its logs:"
    tail -n 30 "$dir/log/startup.log" "$dir/log/$node.log" >&2 2>/dev/null || true
    return 1
  fi
  say "started $node on amqp://127.0.0.1:$port in $((SECONDS - t0)) s (state in $dir)"
}

stop() {
  if running; then
    ctl stop "$pidfile" >>"$dir/log/startup.log" 2>&1 || true
  fi
  # a broker that would not stop (or a half-started one) is killed by its pid
  if [[ -s "$pidfile" ]]; then
    local pid
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      say "the broker ignored stop; killing pid $pid"
      kill_pid "$pid"
    fi
    rm -f "$pidfile"
  fi
  local orphan
  orphan=$(orphan_pid)
  if [[ -n $orphan ]]; then
    say "stopping a broker of ours that cannot be reached (pid $orphan)"
    kill_pid "$orphan"
  fi
  # our own epmd only (ERL_EPMD_PORT): another Erlang node's port mapper is not ours to stop
  epmd -kill >/dev/null 2>&1 || true
  say "stopped $node"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop && start keep ;;
  status) if running; then say "running"; else say "not running"; exit 1; fi ;;
  ctl)
    shift
    ctl "$@"
    ;;
  *)
    echo "usage: $0 start|stop|restart|status|ctl ARGS..." >&2
    exit 2
    ;;
esac
