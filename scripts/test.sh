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
#      they run is raced through the unit packages' tests). Each test's output is printed as it
#      is written (`go test -json` through internal/testfmt, package and test in front of each
#      line) and kept in $DROVER_TEST_LOG_DIR/go-test-DATE.log (last.log: the newest)
#
# Environment:
#   DROVER_CONSUL        a Consul binary to use instead of building one
#   DROVER_HELM          a helm (v3) binary to use instead of building one
#   DROVER_KEEP_DOCKER=1 leave the private dockerd running after the tests
#   DROVER_TEST_TIMEOUT  go test -timeout (default 25m)
#   DROVER_TEST_FLAGS    extra go test flags, e.g. "-run Store -v"
#   DROVER_TEST_PKGS     packages to vet and test (default ./...)
#   DROVER_TEST_LOG_DIR  where the logs of the runs are kept (default ~/.cache/drover/test-logs)
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
# The Docker networks drover's tests create (drover-e2e, drover-rttest, each test's own) carry
# the label drover.io/network; those that were not there before this run are removed at exit.
networks_before=""
labelled_networks() {
  [ -n "${DOCKER_HOST:-}" ] || return 0
  docker network ls -q --filter label=drover.io/network 2>/dev/null | sort || true
}
remove_test_networks() {
  [ -n "${networks_recorded:-}" ] || return 0
  local id
  for id in $(comm -13 <(printf '%s\n' "$networks_before") <(labelled_networks)); do
    docker network rm "$id" >/dev/null 2>&1 || true
  done
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -z "$session" ] || stop_session "$session"
  [ -z "$follower" ] || kill "$follower" 2>/dev/null || true
  remove_test_networks
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
networks_before=$(labelled_networks)
networks_recorded=1

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
# The log outlives the run (the temporary directory does not): one file per run under
# $DROVER_TEST_LOG_DIR, and last.log pointing at the newest.
log_dir=${DROVER_TEST_LOG_DIR:-$HOME/.cache/drover/test-logs}
mkdir -p "$log_dir"
log=$log_dir/go-test-$(date +%Y%m%d-%H%M%S).log
ln -sfn "$(basename "$log")" "$log_dir/last.log"
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
say "every test's output is shown as it is written, and kept in $log"
# go test -json streams each test's output as it is written (plain go test holds a package's
# output until the package ends); internal/testfmt prints it line by line with the package
# and test in front and writes the log. Both go test runs share one session of their own; the
# session's status is the first failing run's.
go build -o "$work/testfmt" ./internal/testfmt || fail "building internal/testfmt failed (see above)"
mkfifo "$work/events"
"$work/testfmt" -log "$log" -module "$(go list -m)" <"$work/events" &
follower=$!
# shellcheck disable=SC2016 # expanded by the inner shell
setsid bash -c '
  rc=0
  # shellcheck disable=SC2086
  if [ -n "$3" ]; then go test -json -race -count=1 -timeout "$1" $2 $3 || rc=$?; fi
  # shellcheck disable=SC2086
  if [ -n "$4" ]; then go test -json -count=1 -timeout "$1" $2 $4 || { r=$?; [ "$rc" -ne 0 ] || rc=$r; }; fi
  exit "$rc"
' go-test "$timeout" "${DROVER_TEST_FLAGS:-}" "$race_pkgs" "$plain_pkgs" >"$work/events" 2>&1 &
session=$!
rc=0
wait "$session" || rc=$?
# A process a test leaked would hold the pipe open and keep testfmt waiting: stop what is left
# of the session, then give testfmt a moment to print the rest.
stop_session "$session"
session=""
for _ in $(seq 50); do kill -0 "$follower" 2>/dev/null || break; sleep 0.2; done
kill "$follower" 2>/dev/null || true
wait "$follower" 2>/dev/null || true
follower=""

# summary ------------------------------------------------------------------------------------
passed=$(grep -c '^ok ' "$log" || true)
failed=$(grep -cE '^FAIL[[:space:]]' "$log" || true)
notests=$(grep -c '^?' "$log" || true)
echo
say "summary ($(($(date +%s) - start))s): $passed packages ok, $failed failed, $notests without tests (log: $log)"
if grep -qE -- '--- FAIL|^FAIL|^panic:' "$log"; then
  grep -E -- '--- FAIL|^FAIL|^panic:' "$log" | sed 's/^/    /'
fi
[ "$rc" -eq 0 ] || fail "go test exited with status $rc"
say "PASS"
