#!/usr/bin/env bash
# Runs a Consul dev agent in the background for people and `make`, on loopback only.
#
#   scripts/consul-dev.sh start   start it unless it already runs; prints its HTTP address
#   scripts/consul-dev.sh stop    stop it (nothing to do if it does not run)
#   scripts/consul-dev.sh addr    print its HTTP address; fails if it does not run
#   scripts/consul-dev.sh status  say whether it runs
#
#   CONSUL_PORT    HTTP port (default 8500); the other ports are Consul's dev defaults
#   DROVER_STATE   pid file, log and data (default /tmp/drover-consul)
#   DROVER_CONSUL  Consul binary (default: built by scripts/consul-build.sh)
set -euo pipefail
state=${DROVER_STATE:-/tmp/drover-consul}
pidfile=$state/consul.pid
log=$state/consul.log

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q consul "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

addr() {
  if running_pid >/dev/null && [ -f "$state/addr" ]; then
    cat "$state/addr"
  else
    echo "consul-dev: not running (state in $state)" >&2
    return 1
  fi
}

# has_leader ADDR: GET /v1/status/leader names a leader (plain bash: no curl needed).
has_leader() {
  local out
  out=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1##*:}" &&
    printf "GET /v1/status/leader HTTP/1.0\r\nHost: %s\r\n\r\n" "$1" >&3 && cat <&3' _ "$1" 2>/dev/null) || return 1
  [[ $out == "HTTP/1."?" 200"* ]] && [[ $out == *'"'?*'"'* ]]
}

start() {
  if running_pid >/dev/null; then
    addr
    return 0
  fi
  local port=${CONSUL_PORT:-8500} bin
  bin=${DROVER_CONSUL:-}
  if [ -z "$bin" ]; then
    bin=$("$(dirname "$0")/consul-build.sh")
  fi
  mkdir -p "$state/data"
  local a="127.0.0.1:$port"
  if has_leader "$a"; then
    echo "consul-dev: something else already answers on $a" >&2
    return 1
  fi
  nohup "$bin" agent -dev -bind 127.0.0.1 -client 127.0.0.1 -http-port "$port" \
    -data-dir "$state/data" -node drover-dev >"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  echo "$a" >"$state/addr"
  for _ in $(seq 1 300); do
    if has_leader "$a"; then
      echo "$a"
      return 0
    fi
    if ! running_pid >/dev/null; then
      echo "consul-dev: agent exited; log $log:" >&2
      tail -n 30 "$log" >&2
      rm -f "$pidfile"
      return 1
    fi
    sleep 0.1
  done
  echo "consul-dev: no leader on $a after 30 s; log $log" >&2
  return 1
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$pidfile"
    return 0
  fi
  kill "$pid"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  rm -f "$pidfile"
  echo "consul-dev: stopped" >&2
}

case "${1:-}" in
start) start ;;
stop) stop ;;
addr) addr ;;
status) if running_pid >/dev/null; then echo "running on $(cat "$state/addr")"; else echo "not running"; exit 1; fi ;;
*)
  echo "usage: $0 start|stop|addr|status" >&2
  exit 2
  ;;
esac
