#!/usr/bin/env bash
# `make conformance`: Kubernetes' own conformance tests (k8s.io/kubernetes v1.32.0's e2e.test,
# `[Conformance]` in sig-node, sig-apps, sig-network, sig-storage and sig-api-machinery) against
# a `drover up` of its own, then a table: passed / failed / skipped per SIG and each failure
# with its one-line reason. Not part of `make test`: the first build of e2e.test compiles most
# of Kubernetes (tens of minutes on 2 cores; cached under ~/.cache/drover/conformance).
#
#   DROVER_CONFORMANCE_FOCUS   ginkgo --focus regex (default: the five SIGs)
#   DROVER_CONFORMANCE_SKIP    file of regexes skipped (default scripts/conformance/skip.txt)
#   DROVER_CONFORMANCE_NODES   ginkgo parallel processes (default 2)
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

# drover up on a network, service range, DNS address and API port of its own.
data_dir=$(mktemp -d /tmp/drover-conformance.XXXXXX)
kubeconfig=$data_dir/kubeconfig
node=conformance-$$
# The API server listens on the node's address, which pods reach (the kubernetes Service's
# Endpoints): on loopback alone drover advertises none, as pods could not reach it.
node_ip=$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") { print $(i + 1); exit }}')
[ -n "$node_ip" ] || node_ip=$(hostname -I | awk '{print $1}')
[ -n "$node_ip" ] || fail "no IPv4 address of this host outside loopback for the API server (pods reach it there)"
bin/drover up --data-dir "$data_dir" --listen "$node_ip:0" --node-name "$node" --network drover-conformance \
  --subnet 10.190.0.0/16 --service-cidr 10.191.0.0/16 --cluster-dns 10.191.0.10 \
  --log-port 10350 --log-level warn >"$out/drover-up.log" 2>&1 &
up=$!
cleanup() {
  if [ "${DROVER_CONFORMANCE_KEEP:-}" = 1 ]; then
    say "drover up keeps running (pid $up): export KUBECONFIG=$kubeconfig"
    return
  fi
  kill -TERM "$up" 2>/dev/null || true
  wait "$up" 2>/dev/null || true
  ids=$(docker ps -aq --filter "label=drover.io/node=$node")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
  docker network rm drover-conformance >/dev/null 2>&1 || true
  grep -qs " $data_dir/" /proc/mounts && awk -v d="$data_dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l || true
  rm -rf "$data_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ready=""
for _ in $(seq 1 240); do
  kill -0 "$up" 2>/dev/null || fail "drover up exited: $(tail -5 "$out/drover-up.log")"
  if [ -f "$kubeconfig" ] && bin/drover --kubeconfig "$kubeconfig" get nodes 2>/dev/null | awk 'NR > 1 && $2 == "Ready" { f = 1 } END { exit !f }'; then
    ready=1
    break
  fi
  sleep 0.5
done
[ -n "$ready" ] || fail "drover up's node was not Ready within 2 minutes: $(tail -5 "$out/drover-up.log")"
# The controllers make the `kubernetes` service's Endpoints a moment after the node is Ready
# (kube-apiserver makes them before it is ready); the first specs read them.
for _ in $(seq 1 120); do
  bin/drover --kubeconfig "$kubeconfig" get endpoints kubernetes -n default >/dev/null 2>&1 && break
  sleep 0.5
done
bin/drover --kubeconfig "$kubeconfig" get endpoints kubernetes -n default >/dev/null 2>&1 ||
  fail "the kubernetes service's Endpoints did not appear within a minute: $(tail -5 "$out/drover-up.log")"

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
