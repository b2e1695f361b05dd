#!/usr/bin/env bash
# Runs drover's benchmarks and prints a table of the latency figures (p50/p99 in ms).
# Needs the Consul binary (built by scripts/consul-build.sh if missing).
#   BENCHTIME  go test -benchtime (default 300x)
set -euo pipefail
cd "$(dirname "$0")/.."
export DROVER_CONSUL=${DROVER_CONSUL:-$(bash scripts/consul-build.sh)}
export DROVER_E2E=1
benchtime=${BENCHTIME:-300x}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "running benchmarks (benchtime $benchtime)..." >&2
go test -run '^$' -bench . -benchtime "$benchtime" -count 1 \
  ./cluster/apiserver/ ./cluster/store/ ./cluster/store/boltstore/ | tee "$out" >&2
echo
printf '%-44s %10s %10s %14s\n' BENCHMARK P50-MS P99-MS OTHER
awk '/^Benchmark/ {
  name=$1; sub(/-[0-9]+$/, "", name); p50="-"; p99="-"; other="";
  for (i=3; i<=NF; i++) {
    if ($(i) == "p50-ms") p50=$(i-1);
    else if ($(i) == "p99-ms") p99=$(i-1);
    else if ($(i) ~ /(ns\/op|µs)$/ && $(i) != "ns/op") other=other $(i-1) " " $(i) " ";
  }
  printf "%-44s %10s %10s %14s\n", name, p50, p99, other
}' "$out"
