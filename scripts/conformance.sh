#!/usr/bin/env bash
# `make conformance`: Kubernetes' own conformance tests (k8s.io/kubernetes v1.32.0's e2e.test,
# `[Conformance]` in sig-node, sig-apps, sig-network, sig-storage and sig-api-machinery) against
# a cluster of its own (drover up and, by default, one more node), then a table: passed /
# failed / skipped per SIG and each failure with its one-line reason. Not part of `make test`:
# the first build of e2e.test compiles most of Kubernetes (tens of minutes on 2 cores; cached
# under ~/.cache/drover/conformance).
#
#   DROVER_CONFORMANCE_FOCUS   ginkgo --focus regex (default: the five SIGs)
#   DROVER_CONFORMANCE_SKIP    file of regexes skipped (default scripts/conformance/skip.txt)
#   DROVER_CONFORMANCE_NODES   ginkgo parallel processes (default 2)
#   DROVER_CONFORMANCE_HOSTS   cluster nodes (default 2: drover up's own and one more, a simulated
#                              Docker host of scripts/multihost.sh joined with drover node --host-gw;
#                              1: drover up alone, whose specs needing two nodes then fail)
#   DROVER_CONFORMANCE_OUT     results directory (default ~/.cache/drover/conformance/results/DATE)
#   DROVER_CONFORMANCE_KEEP=1  leave drover up running after the tests (its kubeconfig is printed)
# Extra arguments go to ginkgo before the e2e.test binary (e.g. --dry-run, --fail-fast).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '==> %s\n' "$*" >&2; }
fail() {
  printf 'make conformance: %s\n' "$*" >&2
  exit 1
}

cache=${DROVER_CACHE:-$HOME/.cache/drover}
out=${DROVER_CONFORMANCE_OUT:-$cache/conformance/results/$(date -u +%Y%m%dT%H%M%SZ)}
focus=${DROVER_CONFORMANCE_FOCUS:-'\[sig-(node|apps|network|storage|api-machinery)\]'}
skipfile=${DROVER_CONFORMANCE_SKIP:-scripts/conformance/skip.txt}
nodes=${DROVER_CONFORMANCE_NODES:-2}
hosts=${DROVER_CONFORMANCE_HOSTS:-2}
case $hosts in '' | *[!0-9]* | 0*) fail "DROVER_CONFORMANCE_HOSTS must be a number of nodes, 1 or more (got \"$hosts\")" ;; esac
mkdir -p "$out"

say "building e2e.test, ginkgo and agnhost (scripts/conformance/build.sh; cached after the first time)"
bindir=$(scripts/conformance/build.sh) || fail "building the conformance binaries failed (see above)"
make --no-print-directory build >&2

if [ -z "${DOCKER_HOST:-}" ] || ! docker version >/dev/null 2>&1; then
  eval "$(scripts/docker-up.sh)"
  export DOCKER_HOST
fi
say "building drover's test images and the conformance images (Docker: $DOCKER_HOST)"
scripts/images.sh >&2
scripts/conformance/images.sh "$bindir" >&2

# drover up on a network, service range, DNS address and API port of its own; with two hosts or
# more (the conformance suite expects at least two schedulable nodes: Daemon set "should rollback
# without unnecessary restarts" fails on one), the other nodes run on simulated Docker hosts
# (scripts/multihost.sh: a network namespace on a bridge, a dockerd of its own, the test images
# copied in) with drover node --host-gw, as a second machine joins a cluster; drover up's node
# then takes its pod subnet from the cluster CIDR too and routes to the others' (host-gw).
data_dir=$(mktemp -d /tmp/drover-conformance.XXXXXX)
kubeconfig=$data_dir/kubeconfig
node=conformance-$$
export MH_PREFIX=cnf MH_NET=172.31.250 MH_STATE=/tmp/drover-multihost-cnf
node_pids=()
cleanup() {
  if [ "${DROVER_CONFORMANCE_KEEP:-}" = 1 ]; then
    say "drover up keeps running (pid ${up:-}): export KUBECONFIG=$kubeconfig"
    [ "$hosts" -lt 2 ] || say "its other nodes too (pids ${node_pids[*]}); afterwards: MH_PREFIX=$MH_PREFIX MH_STATE=$MH_STATE scripts/multihost.sh down"
    return
  fi
  for pid in "${node_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${node_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ "$hosts" -lt 2 ] || scripts/multihost.sh down >/dev/null 2>&1 || true
  if [ -n "${up:-}" ]; then
    kill -TERM "$up" 2>/dev/null || true
    wait "$up" 2>/dev/null || true
  fi
  ids=$(docker ps -aq --filter "label=drover.io/node=$node")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
  docker network rm drover-conformance >/dev/null 2>&1 || true
  grep -qs " $data_dir/" /proc/mounts && awk -v d="$data_dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l || true
  rm -rf "$data_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$hosts" -ge 2 ]; then
  # Every test image of the main engine, into each simulated host's engine.
  MH_IMAGES=$(docker images --filter label=drover.test-image=1 --format '{{.Repository}}:{{.Tag}}' | grep -v ':<none>$' | sort -u | paste -sd' ')
  MH_IMAGES="$MH_IMAGES registry.k8s.io/pause:3.10"
  export MH_IMAGES
  say "starting $((hosts - 1)) simulated Docker host(s) for the other nodes (scripts/multihost.sh, the test images copied in)"
  scripts/multihost.sh up "$((hosts - 1))" >"$out/multihost.log" 2>&1 || fail "scripts/multihost.sh up failed: $(tail -5 "$out/multihost.log")"
  # drover up's node is reached at the bridge's address by the other hosts, and so is the API.
  node_ip=$MH_NET.1
  netflags=(--host-gw --cluster-cidr 10.190.0.0/16 --node-ip "$node_ip")
else
  # The API server listens on the node's address, which pods reach (the kubernetes Service's
  # Endpoints): on loopback alone drover advertises none, as pods could not reach it.
  node_ip=$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") { print $(i + 1); exit }}')
  [ -n "$node_ip" ] || node_ip=$(hostname -I | awk '{print $1}')
  [ -n "$node_ip" ] || fail "no IPv4 address of this host outside loopback for the API server (pods reach it there)"
  netflags=(--subnet 10.190.0.0/16)
fi
bin/drover up --data-dir "$data_dir" --listen "$node_ip:0" --node-name "$node" --network drover-conformance \
  "${netflags[@]}" --service-cidr 10.191.0.0/16 --cluster-dns 10.191.0.10 \
  --log-port 10350 --log-level warn >"$out/drover-up.log" 2>&1 &
up=$!
for _ in $(seq 1 120); do
  [ -f "$kubeconfig" ] && break
  kill -0 "$up" 2>/dev/null || fail "drover up exited: $(tail -5 "$out/drover-up.log")"
  sleep 0.5
done
[ -f "$kubeconfig" ] || fail "drover up wrote no kubeconfig within a minute: $(tail -5 "$out/drover-up.log")"
for i in $(seq 1 "$((hosts - 1))"); do
  scripts/multihost.sh exec "$i" "$PWD/bin/drover" node --kubeconfig "$kubeconfig" --node-name "$MH_PREFIX$i" \
    --node-ip "$MH_NET.$((10 + i))" --host-gw --data-dir "$data_dir/$MH_PREFIX$i" --network drover-conformance \
    --cluster-dns 10.191.0.10 --log-port 10350 --log-level warn >"$out/node-$MH_PREFIX$i.log" 2>&1 &
  node_pids+=($!)
done
ready=""
for _ in $(seq 1 240); do
  kill -0 "$up" 2>/dev/null || fail "drover up exited: $(tail -5 "$out/drover-up.log")"
  for pid in "${node_pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || fail "a drover node exited: $(tail -n 5 "$out"/node-*.log)"
  done
  if bin/drover --kubeconfig "$kubeconfig" get nodes 2>/dev/null | awk -v n="$hosts" 'NR > 1 && $2 == "Ready" { r++ } END { exit r != n }'; then
    ready=1
    break
  fi
  sleep 0.5
done
[ -n "$ready" ] || fail "not all $hosts nodes were Ready within 2 minutes: $(bin/drover --kubeconfig "$kubeconfig" get nodes 2>&1; tail -5 "$out/drover-up.log")"
# The controllers make the `kubernetes` service's Endpoints a moment after the node is Ready
# (kube-apiserver makes them before it is ready); the first specs read them.
for _ in $(seq 1 120); do
  bin/drover --kubeconfig "$kubeconfig" get endpoints kubernetes -n default >/dev/null 2>&1 && break
  sleep 0.5
done
bin/drover --kubeconfig "$kubeconfig" get endpoints kubernetes -n default >/dev/null 2>&1 ||
  fail "the kubernetes service's Endpoints did not appear within a minute: $(tail -5 "$out/drover-up.log")"
bin/drover --kubeconfig "$kubeconfig" get nodes -o wide >&2

skip=$(grep -v '^\s*#' "$skipfile" | grep -v '^\s*$' | sed 's/\s*#.*$//' | paste -sd'|')
say "running ginkgo: focus $focus, $(grep -cv '^\s*\(#\|$\)' "$skipfile") skip patterns, $nodes processes; results in $out"
set +e
"$bindir/ginkgo" --nodes="$nodes" --label-filter=Conformance --focus="$focus" --skip="$skip" \
  --timeout=4h --poll-progress-after=2m --json-report=report.json --output-dir="$out" --no-color "$@" \
  "$bindir/e2e.test" -- --kubeconfig="$kubeconfig" --provider=skeleton --report-dir="$out" \
  --dns-domain=cluster.local --minStartupPods=0 --system-pods-startup-timeout=1m \
  --node-os-distro=debian >"$out/ginkgo.log" 2>&1
rc=$?
set -e
[ -s "$out/report.json" ] || fail "ginkgo wrote no report (exit $rc): $(tail -20 "$out/ginkgo.log")"
go run ./scripts/conformance/report "$out/report.json" | tee "$out/table.md"
say "table: $out/table.md; ginkgo's log: $out/ginkgo.log; drover's: $out/drover-up.log"
exit "$rc"
