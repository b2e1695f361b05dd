#!/usr/bin/env bash
# The kubemark-style density test (issue 20 item 7; `make density`). For each step NODES/PODS:
# a private `drover server` (bolt store in a temporary data dir, RBAC as by default, the admin
# kubeconfig it writes), NODES hollow nodes in `drover node --runtime=hollow --count K`
# processes (K <= DENSITY_NODES_PER_PROC), and the driver (cmd/drover-density) that waits for
# the nodes, creates PODS pods through ReplicationControllers of 30, watches them reach
# Running, then creates one latency pod per node, one every 200 ms, into the saturated cluster
# (how Kubernetes' density test measures its pod startup SLO), and samples API latencies and
# resource use. Each step prints one markdown row and
# `uptime`; the table of all steps comes at the end. Everything started is stopped at exit.
#
#   scripts/density.sh [--store bolt|consul|consul://HOST:PORT/PREFIX] [--steps "100/3000 ..."]
#
# Environment (the flags win):
#   DENSITY_STEPS           steps NODES/PODS, space-separated (default "100/3000 500/15000
#                           1000/30000 2000/60000")
#   DENSITY_STORE           bolt (default), consul (a private `consul agent -dev` on free loopback
#                           ports, binary from scripts/consul-build.sh) or consul://HOST:PORT/PREFIX
#                           (a Consul you run; each step uses PREFIX-STEP)
#   DENSITY_NODES_PER_PROC  hollow nodes per drover node process (default 500)
#   DENSITY_BARE_PODS       bare pods per step, created in bursts after the RCs (default 0)
#   DENSITY_POD_TIMEOUT     the driver's --pod-timeout (default 15m)
#   DENSITY_ARGS            more driver flags (see bin/drover-density -h)
#   DENSITY_SERVER_ARGS     more drover server flags (e.g. --profiling --contention-profiling)
#   DENSITY_RESULTS         file the table is appended to as well (default: none)
#   DENSITY_KEEP=1          keep the temporary directory (data dirs and logs) after the run
#   DENSITY_MAX_RSS_MB      memory guard: a step whose drover server grows past this RSS is
#                           stopped and reported failed, before the machine runs out of memory
#                           (default: 60 % of MemTotal; 0: no guard)
set -euo pipefail
cd "$(dirname "$0")/.."

steps=${DENSITY_STEPS:-"100/3000 500/15000 1000/30000 2000/60000"}
store=${DENSITY_STORE:-bolt}
per_proc=${DENSITY_NODES_PER_PROC:-500}
bare=${DENSITY_BARE_PODS:-0}
pod_timeout=${DENSITY_POD_TIMEOUT:-15m}
max_rss_mb=${DENSITY_MAX_RSS_MB:-$(awk '/^MemTotal:/ { printf "%d", $2 * 0.6 / 1024 }' /proc/meminfo)}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; }
die() {
  echo "density: $*" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
  --store) [ $# -ge 2 ] || die "--store needs a value (bolt, consul or consul://HOST:PORT/PREFIX)"; store=$2; shift 2 ;;
  --store=*) store=${1#--store=}; shift ;;
  --steps) [ $# -ge 2 ] || die "--steps needs a value (\"100/3000 500/15000\")"; steps=$2; shift 2 ;;
  --steps=*) steps=${1#--steps=}; shift ;;
  -h | --help) usage; exit 0 ;;
  *) die "unknown argument $1 (want --store, --steps; see $0 --help)" ;;
  esac
done
for s in $steps; do
  [[ $s =~ ^[1-9][0-9]*/[0-9]+$ ]] || die "step \"$s\" (DENSITY_STEPS/--steps): want NODES/PODS, e.g. 100/3000"
done
[[ $per_proc =~ ^[1-9][0-9]*$ ]] || die "DENSITY_NODES_PER_PROC \"$per_proc\": want a positive number"
[[ $bare =~ ^[0-9]+$ ]] || die "DENSITY_BARE_PODS \"$bare\": want a number"
[[ $max_rss_mb =~ ^[0-9]+$ ]] || die "DENSITY_MAX_RSS_MB \"$max_rss_mb\": want a number of MB (0: no guard)"
case $store in
bolt | consul | consul://*/?*) ;;
*) die "--store/DENSITY_STORE \"$store\": want bolt, consul or consul://HOST:PORT/PREFIX" ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/drover-density.XXXXXX")
pids=()
results=$work/results.md

# stop_pids PID...: SIGTERM, then SIGKILL after 15 s, for the processes this script started.
stop_pids() {
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 150); do
    local alive=""
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for pid in "$@"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}
cleanup() {
  trap - EXIT INT TERM
  if [ ${#pids[@]} -gt 0 ]; then
    echo "density: stopping ${#pids[@]} processes" >&2
    stop_pids "${pids[@]}"
  fi
  if [ -n "${DENSITY_KEEP:-}" ]; then
    echo "density: kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port: a loopback TCP port nothing answers on, not handed out before by this script.
used_ports=" "
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    [[ $used_ports == *" $p "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      used_ports+="$p "
      echo "$p"
      return 0
    fi
  done
  echo "density: no free port found" >&2
  return 1
}

echo "density: building bin/drover and bin/drover-density" >&2
make -s build
CGO_ENABLED=0 go build -o bin/drover-density ./cmd/drover-density

consul_addr=""
if [ "$store" = consul ]; then
  bin=${DROVER_CONSUL:-$(scripts/consul-build.sh)}
  hp=$(free_port)
  mkdir -p "$work/consul"
  # As the tests' consultest: a dev agent on free loopback ports only.
  "$bin" agent -dev -bind 127.0.0.1 -client 127.0.0.1 -data-dir "$work/consul" -node density \
    -http-port "$hp" -dns-port "$(free_port)" -serf-lan-port "$(free_port)" -serf-wan-port "$(free_port)" \
    -server-port "$(free_port)" -grpc-port "$(free_port)" -grpc-tls-port -1 -https-port -1 \
    >"$work/consul.log" 2>&1 </dev/null &
  pids+=($!)
  consul_addr=127.0.0.1:$hp
  for i in $(seq 1 300); do
    out=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET /v1/status/leader HTTP/1.0\r\n\r\n" >&3 && cat <&3' _ "$hp" 2>/dev/null || true)
    [[ $out == *'"'?*'"'* ]] && break
    [ "$i" = 300 ] && die "Consul dev agent has no leader after 30 s: $(tail -n 20 "$work/consul.log")"
    sleep 0.1
  done
  echo "density: Consul dev agent at $consul_addr" >&2
fi

first=1
for s in $steps; do
  nodes=${s%/*}
  pods=${s#*/}
  dir=$work/step-$nodes-$pods
  mkdir -p "$dir"
  port=$(free_port)
  label="$s"
  storeflags=()
  statedb=""
  case $store in
  bolt)
    statedb=$dir/state.db
    storeflags=(--store "bolt://$statedb")
    ;;
  consul)
    storeflags=(--store "consul://$consul_addr/density-$nodes-$pods" --consul-catalog off)
    label="$s consul"
    ;;
  consul://*)
    storeflags=(--store "$store-$nodes-$pods" --consul-catalog off)
    label="$s consul"
    ;;
  esac
  # Node subnets sized for the fleet (/26 each: 4,096 nodes in the /14), ranges of their own so
  # they do not clash with the tests' or a drover up's; no resource metrics (hollow nodes serve
  # no stats port).
  # shellcheck disable=SC2086
  bin/drover server --data-dir "$dir" --listen "127.0.0.1:$port" "${storeflags[@]}" \
    --service-cidr 10.203.0.0/16 --cluster-cidr 10.208.0.0/14 --node-cidr-mask-size 26 \
    --metric-resolution 0 --log-level warn ${DENSITY_SERVER_ARGS:-} >"$dir/server.log" 2>&1 </dev/null &
  server=$!
  pids+=("$server")
  kc=$dir/kubeconfig
  for i in $(seq 1 600); do
    if [ -s "$kc" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    kill -0 "$server" 2>/dev/null || die "drover server exited: $(tail -n 20 "$dir/server.log")"
    [ "$i" = 600 ] && die "drover server not up after 60 s: $(tail -n 20 "$dir/server.log")"
    sleep 0.1
  done
  echo "density: step $label: drover server (pid $server) at 127.0.0.1:$port, data dir $dir" >&2

  nodepids=()
  left=$nodes
  j=0
  while [ "$left" -gt 0 ]; do
    k=$((left < per_proc ? left : per_proc))
    bin/drover node --kubeconfig "$kc" --runtime=hollow --count "$k" --node-name "hollow-$j" \
      --log-port 0 --dns=false --proxy=false --data-dir "$dir/node-$j" --log-level warn \
      >"$dir/node-$j.log" 2>&1 </dev/null &
    nodepids+=($!)
    pids+=($!)
    left=$((left - k))
    j=$((j + 1))
  done
  echo "density: step $label: $nodes hollow nodes in ${#nodepids[@]} drover node processes (pids ${nodepids[*]})" >&2

  hdr=()
  [ -n "$first" ] && hdr=(--header)
  driverflags=(--kubeconfig "$kc" --step "$label" --nodes "$nodes" --pods "$pods" --bare-pods "$bare"
    --pod-timeout "$pod_timeout" --server-pid "$server" --node-pids "$(IFS=,; echo "${nodepids[*]}")")
  [ -n "$statedb" ] && driverflags+=(--state-db "$statedb")
  # The memory guard: past the limit the server and the driver are stopped (the step fails).
  guard=""
  if [ "$max_rss_mb" -gt 0 ]; then
    (
      while kill -0 "$server" 2>/dev/null; do
        rss=$(awk '/^VmRSS:/ { printf "%d", $2 / 1024 }' "/proc/$server/status" 2>/dev/null || echo 0)
        if [ "${rss:-0}" -gt "$max_rss_mb" ]; then
          echo "density: step $label: drover server RSS ${rss} MB is over the guard (DENSITY_MAX_RSS_MB=$max_rss_mb): stopping it" >&2
          echo "$rss" >"$dir/guard-tripped"
          kill -KILL "$server" 2>/dev/null || true
          pkill -TERM -f -- "bin/drover-density .*--server-pid $server " 2>/dev/null || true
          exit 0
        fi
        sleep 2
      done
    ) &
    guard=$!
  fi
  # shellcheck disable=SC2086
  if ! bin/drover-density "${driverflags[@]}" "${hdr[@]}" ${DENSITY_ARGS:-} | tee -a "$results"; then
    if [ -n "$guard" ]; then kill "$guard" 2>/dev/null || true; fi
    if [ -s "$dir/guard-tripped" ]; then
      echo "density: step $label failed: the server's RSS reached $(cat "$dir/guard-tripped") MB (guard $max_rss_mb MB); the server's log ends:" >&2
    else
      echo "density: step $label failed; the server's log ends:" >&2
    fi
    tail -n 20 "$dir/server.log" >&2
    exit 1
  fi
  if [ -n "$guard" ]; then
    kill "$guard" 2>/dev/null || true
    wait "$guard" 2>/dev/null || true
  fi
  first=""
  echo "uptime: $(uptime)" | tee -a "$results.uptime"
  grep -c -i -e 'level=error' -e '^E[0-9]' "$dir/server.log" >/dev/null 2>&1 &&
    echo "density: the server logged $(grep -c -i -e 'level=error' -e '^E[0-9]' "$dir/server.log") error lines ($dir/server.log)" >&2

  stop_pids "${nodepids[@]}" "$server"
  keep=()
  for p in "${pids[@]}"; do
    [[ " ${nodepids[*]} $server " == *" $p "* ]] || keep+=("$p")
  done
  pids=("${keep[@]}")
done

echo
echo "density results ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores):"
echo
cat "$results"
echo
cat "$results.uptime"
if [ -n "${DENSITY_RESULTS:-}" ]; then
  { cat "$results"; cat "$results.uptime"; } >>"$DENSITY_RESULTS"
fi
