#!/usr/bin/env bash
# The whole test run of drover (what `make test` and .ci/run do). Idempotent; needs root, Go and
# kubectl; builds Consul once (cached under $HOME/.cache/drover) and leaves nothing running
# that it started.
#
#   1. prerequisites: go, kubectl (the e2e tests drive the real kubectl), a Consul binary
#      (scripts/consul-build.sh, exported as DROVER_CONSUL; the tests start their own agents),
#      a Helm v3 binary (scripts/helm.sh, exported as DROVER_HELM; the chart tests drive it),
#      and Docker: a private dockerd (scripts/docker-up.sh installs docker.io when missing) with
#      the test images (scripts/images.sh), stopped again at exit unless it was already running
#   2. gofmt (fails listing the files) and go vet
#   3. DROVER_E2E=1 go test -count=1 ./... : with DROVER_E2E set a missing prerequisite fails
#      a test instead of skipping it. The unit packages run with -race; the packages that drive
#      Docker engines, Consul, kubectl and drover processes end to end (DROVER_TEST_NORACE) run
#      after them without it (the race detector would make them several times slower; what
#      they run is raced through the unit packages' tests)
#
# Environment:
#   DROVER_CONSUL        a Consul binary to use instead of building one
#   DROVER_HELM          a helm (v3) binary to use instead of building one
#   DROVER_KEEP_DOCKER=1 leave the private dockerd running after the tests
#   DROVER_TEST_TIMEOUT  go test -timeout (default 25m)
#   DROVER_TEST_FLAGS    extra go test flags, e.g. "-run Store -v"
#   DROVER_TEST_PKGS     packages to vet and test (default ./...)
#   DROVER_TEST_NORACE   extended regexp of the import paths tested without -race (default: the
#                        end-to-end packages below); "." runs everything without -race
set -euo pipefail

cd "$(dirname "$0")/.."
start=$(date +%s)

say() { printf '==> %s\n' "$*"; }
fail() {
  printf 'test.sh: FAIL: %s\n' "$*" >&2
  exit 1
}

# Everything this script starts lives in one temporary directory and, for go test, in a
# session of its own: at exit every process left in that session is stopped, including Consul
# agents (in process groups of their own) that a test killed by a timeout could not stop.
work=$(mktemp -d "${TMPDIR:-/tmp}/drover-test.XXXXXX")
session=""
follower=""
# session_pids prints the pids of the processes in session $1 (from /proc: no procps needed).
session_pids() {
  local stat line
  for stat in /proc/[0-9]*/stat; do
    { read -r line <"$stat"; } 2>/dev/null || continue
    # fields after "(comm) ": state ppid pgrp session
    read -r _ _ _ sid _ <<<"${line##*) }"
    [ "$sid" = "$1" ] && printf '%s\n' "${stat//[!0-9]/}"
  done
  return 0
}
stop_session() {
  local pids
  pids=$(session_pids "$1")
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  sleep 1
  pids=$(session_pids "$1")
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -z "$session" ] || stop_session "$session"
  [ -z "$follower" ] || kill "$follower" 2>/dev/null || true
  if [ -n "${docker_started:-}" ] && [ -z "${DROVER_KEEP_DOCKER:-}" ]; then
    KEEP_STATE=1 scripts/docker-down.sh >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. prerequisites ---------------------------------------------------------------------------
command -v go >/dev/null 2>&1 || fail "go is not on PATH (drover needs the Go toolchain named in go.mod)"
command -v kubectl >/dev/null 2>&1 ||
  fail "kubectl is not on PATH: the e2e tests drive a real kubectl (v1.32); install it and rerun"
say "go: $(go version)"
say "kubectl: $(kubectl version --client 2>/dev/null | head -n1)"

if [ -n "${DROVER_CONSUL:-}" ]; then
  [ -x "$DROVER_CONSUL" ] || fail "DROVER_CONSUL=$DROVER_CONSUL is not an executable file"
else
  say "consul: scripts/consul-build.sh (a few minutes the first time, then cached)"
  DROVER_CONSUL=$(scripts/consul-build.sh) || fail "building Consul failed (see the output above)"
  DROVER_CONSUL=$(printf '%s\n' "$DROVER_CONSUL" | tail -n1)
  [ -x "$DROVER_CONSUL" ] || fail "scripts/consul-build.sh printed '$DROVER_CONSUL', not a binary"
fi
export DROVER_CONSUL
say "consul: $DROVER_CONSUL ($("$DROVER_CONSUL" version | head -n1))"

if [ -n "${DROVER_HELM:-}" ]; then
  [ -x "$DROVER_HELM" ] || fail "DROVER_HELM=$DROVER_HELM is not an executable file"
else
  say "helm: scripts/helm.sh (go install from the module proxy the first time, then cached)"
  DROVER_HELM=$(scripts/helm.sh) || fail "building helm failed (see the output above)"
  DROVER_HELM=$(printf '%s\n' "$DROVER_HELM" | tail -n1)
  [ -x "$DROVER_HELM" ] || fail "scripts/helm.sh printed '$DROVER_HELM', not a binary"
fi
export DROVER_HELM
say "helm: $DROVER_HELM ($("$DROVER_HELM" version --short))"

# Docker: a private engine for the node agent's tests. One that already answers is reused
# (and left running); one this script starts is stopped at exit.
say "docker: scripts/docker-up.sh"
docker_started=""
if [ -z "${DOCKER_HOST:-}" ] || ! docker version >/dev/null 2>&1; then
  state=${DROVER_DOCKER_STATE:-/tmp/drover-docker}
  if ! docker -H "unix://$state/docker.sock" version >/dev/null 2>&1; then
    docker_started=1
  fi
  eval "$(scripts/docker-up.sh)" || fail "could not start a private dockerd (see the output above)"
fi
export DOCKER_HOST
say "docker: $DOCKER_HOST ($(docker version --format '{{.Server.Version}}'))"
scripts/images.sh || fail "building the test images failed (see the output above)"

# 2. gofmt and go vet ------------------------------------------------------------------------
say "gofmt"
if git rev-parse --git-dir >/dev/null 2>&1; then
  list_go() { git ls-files --cached --others --exclude-standard -z -- '*.go'; }
else
  list_go() { find . -name '*.go' -not -path './.git/*' -print0; }
fi
unformatted=$(list_go | xargs -0 -r sh -c 'for f; do if [ -f "$f" ]; then printf "%s\0" "$f"; fi; done' sh |
  xargs -0 -r gofmt -l)
if [ -n "$unformatted" ]; then
  printf '%s\n' "$unformatted" >&2
  fail "these files are not gofmt-formatted (run: make fmt)"
fi

pkgs=${DROVER_TEST_PKGS:-./...}
say "go vet $pkgs"
# shellcheck disable=SC2086
go vet $pkgs || fail "go vet found problems (see above)"

# 3. tests -----------------------------------------------------------------------------------
timeout=${DROVER_TEST_TIMEOUT:-25m}
log=$work/go-test.log
export DROVER_E2E=1
# t.TempDir and the tests' Consul data dirs go under $work, removed on exit.
export TMPDIR=$work
# cluster/container/docker and cluster/nodeagent assert timings on a real Docker engine (a Go
# pause process must have its SIGTERM handler in place before a stop; crash-loop back-off
# gaps): under -race on 2 cores those fail for the detector's slowness, not for a race.
norace=${DROVER_TEST_NORACE:-/(cloud/e2e|examples|internal|cluster/container/docker|cluster/nodeagent)(/|$)}
# shellcheck disable=SC2086
all=$(go list $pkgs) || fail "go list $pkgs failed (see above)"
race_pkgs=$(grep -vE -- "$norace" <<<"$all" || true)
plain_pkgs=$(grep -E -- "$norace" <<<"$all" || true)
say "DROVER_E2E=1 go test -count=1 -timeout $timeout ${DROVER_TEST_FLAGS:-}: $(wc -w <<<"$race_pkgs") packages with -race, then $(wc -w <<<"$plain_pkgs") without (matching $norace)"
# Both go test runs share one session of their own and one log; the log is followed on the
# terminal until they end (a leaked child holding the output open cannot block the script).
# The session's status is the first failing run's.
# shellcheck disable=SC2016 # expanded by the inner shell
setsid bash -c '
  rc=0
  # shellcheck disable=SC2086
  if [ -n "$3" ]; then go test -race -count=1 -timeout "$1" $2 $3 || rc=$?; fi
  # shellcheck disable=SC2086
  if [ -n "$4" ]; then go test -count=1 -timeout "$1" $2 $4 || { r=$?; [ "$rc" -ne 0 ] || rc=$r; }; fi
  exit "$rc"
' go-test "$timeout" "${DROVER_TEST_FLAGS:-}" "$race_pkgs" "$plain_pkgs" >"$log" 2>&1 &
session=$!
tail -n +1 -f --pid="$session" "$log" &
follower=$!
rc=0
wait "$session" || rc=$?
wait "$follower" || true

# summary ------------------------------------------------------------------------------------
passed=$(grep -c '^ok ' "$log" || true)
failed=$(grep -cE '^FAIL[[:space:]]' "$log" || true)
notests=$(grep -c '^?' "$log" || true)
echo
say "summary ($(($(date +%s) - start))s): $passed packages ok, $failed failed, $notests without tests"
if grep -qE -- '--- FAIL|^FAIL|^panic:' "$log"; then
  grep -E -- '--- FAIL|^FAIL|^panic:' "$log" | sed 's/^/    /'
fi
[ "$rc" -eq 0 ] || fail "go test exited with status $rc"
say "PASS"
