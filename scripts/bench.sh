#!/usr/bin/env bash
# Runs drover's benchmarks and prints a table of the latency figures (p50/p99 in ms), then the
# node agent's figures (pod startup against Docker by hand, RSS, hollow nodes).
# Needs the Consul binary (built by scripts/consul-build.sh if missing) and a Docker engine
# (DOCKER_HOST, else drover's private one from scripts/docker-up.sh, stopped again at exit if
# this script started it).
#   BENCHTIME            go test -benchtime of the store/apiserver benchmarks (default 300x)
#   DROVER_HOLLOW_NODES  hollow nodes of BenchmarkHollowNodes (default 500)
#   DROVER_BENCH_SKIP_NODE=1  skip the node agent benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."
export DROVER_CONSUL=${DROVER_CONSUL:-$(bash scripts/consul-build.sh)}
export DROVER_E2E=1
benchtime=${BENCHTIME:-300x}
out=$(mktemp)
nodeout=$(mktemp)
docker_started=""
cleanup() {
  rm -f "$out" "$nodeout"
  if [ -n "$docker_started" ] && [ -z "${DROVER_KEEP_DOCKER:-}" ]; then
    KEEP_STATE=1 scripts/docker-down.sh >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# kv_table prints each benchmark of a go test output file as "name  unit=value  …" (ns/op left
# out). A result is "ITERATIONS  VALUE UNIT  VALUE UNIT …", on the benchmark's name line or,
# when log lines came between them, on a line of its own after it: such a line takes the name of
# the benchmark line that preceded it. A name line without a result (even one ending in "ns/op"
# text from a log) only names what follows, and a benchmark that reports no ns/op at all is
# still recognised (issue 19: one benchmark's name was glued onto the next one's figures).
kv_table() {
  awk 'function result(first,   i, line) {
  if ($first !~ /^[0-9]+$/ || NF < first + 2) return ""
  line = ""
  for (i = first + 1; i < NF; i += 2) {
    if ($i !~ /^-?[0-9.e+]+$/) return ""
    if ($(i+1) != "ns/op") line = line sprintf("%s=%s  ", $(i+1), $i)
  }
  return line == "" ? " " : line
}
/^Benchmark/ {
  name = $1; sub(/-[0-9]+$/, "", name)
  r = result(2)
  if (r != "") { printf "  %-28s %s\n", name, r; pending = "" } else pending = name
  next
}
pending != "" && /^[ \t]*[0-9]+\t/ {
  r = result(1)
  if (r != "") { printf "  %-28s %s\n", pending, r; pending = "" }
}' "$@"
}

echo "running benchmarks (benchtime $benchtime)..." >&2
# ./cluster/apiserver/ includes BenchmarkGetIdleFlood20k: authenticated GET p50/p99 quiet and
# while two helper processes hold 20,000 idle keep-alive connections (issue 16), in one run.
go test -run '^$' -bench . -benchtime "$benchtime" -count 1 \
  ./cluster/apiserver/ ./cluster/store/ ./cluster/store/boltstore/ | tee "$out" >&2

if [ -z "${DROVER_BENCH_SKIP_NODE:-}" ]; then
  if [ -z "${DOCKER_HOST:-}" ] || ! docker version >/dev/null 2>&1; then
    state=${DROVER_DOCKER_STATE:-/tmp/drover-docker}
    docker -H "unix://$state/docker.sock" version >/dev/null 2>&1 || docker_started=1
    eval "$(scripts/docker-up.sh)"
  fi
  export DOCKER_HOST
  # Each node agent benchmark runs once (-benchtime 1x): it makes its own 20 runs, or starts
  # processes (drover server, drover node) built with CGO_ENABLED=0.
  echo "running node agent benchmarks (Docker at $DOCKER_HOST)..." >&2
  go test -run '^$' -bench 'BenchmarkPodStartupDocker|BenchmarkNodeAgentRSS|BenchmarkHollowNodes' \
    -benchtime 1x -count 1 -timeout 30m ./cluster/nodeagent/ 2>&1 |
    { grep -v -e '^[IWE][0-9]\{4\} ' -e ' INFO ' || true; } | tee "$nodeout" >&2 || true
fi

# Controllers and service discovery (issue "Controllers"): scheduler throughput with 1,000
# nodes, DNS lookups (in process, and from a pod through `drover up`), proxy vs direct, a
# Deployment's rolling update against an RC's scale-down/up (issue 13).
ctlout=$(mktemp)
echo "running controller and networking benchmarks..." >&2
{
  go test -run '^$' -bench 'Scheduler1000Nodes' -benchtime 1x -count 1 ./cluster/scheduler/
  go test -run '^$' -bench 'Lookup' -benchtime 5000x -count 1 ./cluster/dns/
  go test -run '^$' -bench 'Throughput' -benchtime 20x -count 1 ./cluster/proxy/
  # A 30-replica Deployment's rolling update on hollow nodes against recreating 30 pods
  # through an RC scaled to 0 and back (issue 13).
  go test -run '^$' -bench 'RollingUpdate30' -benchtime 3x -count 1 ./cluster/controller/deployment/
  if [ -z "${DROVER_BENCH_SKIP_NODE:-}" ]; then
    go test -run '^$' -bench 'DNSLookupFromPod' -benchtime 1x -count 1 ./examples/walkthrough/
  fi
} 2>&1 | { grep -v -e '^[IWE][0-9]\{4\} ' -e ' INFO ' || true; } | tee "$ctlout" >&2 || true

echo
printf '%-44s %10s %10s %14s\n' BENCHMARK P50-MS P99-MS OTHER
# A benchmark's log lines can split its name from its figures; join them again.
awk '/^Benchmark/ && !/ns\/op/ { pending=$1; next }
pending != "" && /ns\/op/ { $0 = pending " " $0; pending="" }
/^Benchmark/ {
  name=$1; sub(/-[0-9]+$/, "", name); p50="-"; p99="-"; other="";
  for (i=3; i<=NF; i++) {
    if ($(i) == "p50-ms") p50=$(i-1);
    else if ($(i) == "p99-ms") p99=$(i-1);
    else if ($(i) ~ /(ns\/op|µs)$/ && $(i) != "ns/op") other=other $(i-1) " " $(i) " ";
  }
  printf "%-44s %10s %10s %14s\n", name, p50, p99, other
}' "$out" "$nodeout"
echo
echo "controllers and networking (targets: scheduler >= 1000 pods/s; DNS p99 <= 10 ms)"
kv_table "$ctlout"
rm -f "$ctlout"

# Into the pods (issue 15): `kubectl exec POD -- true` against `docker exec CTR true` in the same
# run, and port-forward throughput against a direct connection to the pod IP (drover up).
if [ -z "${DROVER_BENCH_SKIP_NODE:-}" ]; then
  sout=$(mktemp)
  echo "running streaming benchmarks (internal/streame2e)..." >&2
  go test -run '^$' -bench 'BenchmarkExec|BenchmarkPortForwardThroughput' -benchtime 30x -count 1 -timeout 15m \
    ./internal/streame2e/ 2>&1 | { grep -v -e '^[IWE][0-9]\{4\} ' -e ' level=' || true; } | tee "$sout" >&2 || true
  echo
  echo "into the pods (targets: exec p50-ratio <= 1.5; port-forward ratio >= 0.5)"
  kv_table "$sout"
  rm -f "$sout"
fi

# Consul and several servers (issue "Consul and several hosts"): Consul KV writes per pod
# lifecycle (counting proxy), controller handover after kill -9 of the leader (p50 of 10, ~4 min).
haout=$(mktemp)
echo "running HA benchmarks (internal/hatest)..." >&2
go test -run '^$' -bench 'ConsulWritesPerPod|ControllerHandover' -benchtime 1x -count 1 -timeout 20m ./internal/hatest/ 2>&1 |
  { grep -v -e '^[IWE][0-9]\{4\} ' -e ' level=' || true; } | tee "$haout" >&2 || true
echo
echo "Consul and several servers (targets: consul-writes/pod <= 4; handover p50-ms <= 15000)"
kv_table "$haout"
rm -f "$haout"

# Jenkins cloud (issue "Jenkins cloud"): queue item visible → agent pod created with the default
# 1 s poll (real API server + fake Jenkins), and on real Docker one agent vs 20 at once and the
# agents left after the queue drains.
jout=$(mktemp)
echo "running Jenkins cloud benchmarks..." >&2
{
  go test -run '^$' -bench 'QueueToPod' -benchtime 30x -count 1 -timeout 10m ./cloud/provider/ 2>&1
  if [ -z "${DROVER_BENCH_SKIP_NODE:-}" ]; then
    go test -run '^$' -bench 'AgentsFromQueue' -benchtime 1x -count 1 -timeout 15m ./cloud/e2e/ 2>&1
  fi
} | { grep -v -e '^[IWE][0-9]\{4\} ' -e ' level=' -e '^[0-9/]* [0-9:]* INFO' || true; } | tee "$jout" >&2 || true
echo
echo "Jenkins cloud (targets: queue→pod p99 <= 1000 ms; twenty/one <= 2; agents-left = 0)"
kv_table "$jout"
grep 'stage ' "$jout" | sed 's/^/   /' || true
rm -f "$jout"

if [ -s "$nodeout" ]; then
  echo
  echo "node agent (targets: pod p50 <= 1.3 x docker p50, pod p99 < 1000 ms; RSS <= 50 MB; <= 5 MB per hollow node)"
  kv_table "$nodeout"
  if grep -q -e '^--- FAIL' -e '^FAIL' "$nodeout"; then
    echo "node agent benchmarks FAILED (see above)" >&2
    exit 1
  fi
fi
