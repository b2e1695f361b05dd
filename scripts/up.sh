#!/usr/bin/env bash
# `make up`: builds bin/drover and runs the main job here: `drover up` (the API server on the
# embedded store, the controllers and a node agent on a Docker engine) with a Jenkins
# controller and drover's Jenkins cloud on it, configured to take builds — in the foreground
# until Ctrl-C. It prints the Jenkins URL, the admin user and the command that prints the
# password.
#
# Docker: DOCKER_HOST when it answers; else a system engine at /var/run/docker.sock; else a
# private dockerd started by scripts/docker-up.sh (installing docker.io through apt when
# dockerd is missing). A private engine this script started keeps running after Ctrl-C so that
# the pods' containers survive a restart of drover; scripts/docker-down.sh stops it.
#
#   DROVER_DATA_DIR      state, certificates, admin token and kubeconfig (default ~/.local/share/drover)
#   DROVER_JENKINS       official (default): the official jenkins/jenkins LTS and
#                        jenkins/inbound-agent images, pulled with progress shown;
#                        local: drover's stand-in Jenkins and agent images, built here by
#                        scripts/images.sh (no registry needed);
#                        none: the orchestrator alone
#   DROVER_JENKINS_IMAGE, DROVER_AGENT_IMAGE  other controller and agent images (official mode)
#   DROVER_DEMO=1        after Jenkins is up, run `drover jenkins demo` (a build end to end),
#                        then stop drover and exit with the demo's status (`make demo`)
# Extra arguments go to `drover up` (e.g. --listen 127.0.0.1:7443).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }
fail() {
  printf 'make up: %s\n' "$*" >&2
  exit 1
}

data_dir=${DROVER_DATA_DIR:-$HOME/.local/share/drover}
jenkins=${DROVER_JENKINS:-official}
case $jenkins in
  official | local | none) ;;
  *) fail "DROVER_JENKINS=$jenkins: want official (the official images), local (drover's stand-ins, offline) or none (no Jenkins)" ;;
esac
make --no-print-directory build >&2
mkdir -p "$data_dir"

if [ -n "${DOCKER_HOST:-}" ] && docker version >/dev/null 2>&1; then
  :
elif [ -S /var/run/docker.sock ] && docker -H unix:///var/run/docker.sock version >/dev/null 2>&1; then
  export DOCKER_HOST=unix:///var/run/docker.sock
else
  eval "$(scripts/docker-up.sh)"
  export DOCKER_HOST
fi

# The images, before anything starts: present, pulled (docker shows the progress), or built.
install_flags=()
case $jenkins in
  official)
    jenkins_image=${DROVER_JENKINS_IMAGE:-jenkins/jenkins:lts-jdk17}
    agent_image=${DROVER_AGENT_IMAGE:-jenkins/inbound-agent:latest-jdk17}
    for image in "$jenkins_image" "$agent_image"; do
      docker image inspect "$image" >/dev/null 2>&1 && continue
      say "pulling $image (Docker at $DOCKER_HOST)"
      if ! docker pull "$image" >&2; then
        fail "could not pull $image (see docker's error above): no registry answers from this machine?
  Run drover's own stand-in Jenkins instead, offline:   DROVER_JENKINS=local make up
  or name images this engine has:                       DROVER_JENKINS_IMAGE=IMAGE DROVER_AGENT_IMAGE=IMAGE make up
  or run the orchestrator alone:                        DROVER_JENKINS=none make up"
      fi
    done
    ;;
  local)
    say "building drover's stand-in Jenkins images (scripts/images.sh)"
    scripts/images.sh >&2 || fail "building the stand-in images failed (see above)"
    jenkins_image=drover/fake-jenkins:1
    agent_image=drover/jenkins-agent-test:1
    # The stand-in answers at once and has no sh to chown JENKINS_HOME with.
    install_flags=(--liveness-delay 5 --set volumePermissions=false)
    ;;
esac

kubeconfig=$data_dir/kubeconfig
drover() { bin/drover --kubeconfig "$kubeconfig" "$@"; }
say "drover up --data-dir $data_dir $* (Docker: $DOCKER_HOST)"
if [ "$jenkins" = none ]; then
  cat >&2 <<MSG
    It writes $kubeconfig on start; in another shell:
      export KUBECONFIG=$kubeconfig
      kubectl get nodes
      kubectl apply -f examples/walkthrough/
    Ctrl-C stops drover; its state stays in $data_dir.
MSG
  exec bin/drover up --data-dir "$data_dir" "$@"
fi

# drover up in the background of this script, stopped with it; Jenkins installed on it once its
# node is Ready.
bin/drover up --data-dir "$data_dir" "$@" &
up=$!
stop_up() {
  kill -TERM "$up" 2>/dev/null || true
  wait "$up" 2>/dev/null || true
}
trap 'stop_up; exit 130' INT
trap 'stop_up; exit 143' TERM
trap 'stop_up' EXIT
ready=""
for _ in $(seq 1 240); do
  kill -0 "$up" 2>/dev/null || { wait "$up" || true; trap - EXIT; fail "drover up exited (see its output above)"; }
  if [ -f "$kubeconfig" ] && drover get nodes 2>/dev/null | awk 'NR > 1 && $2 == "Ready" { found = 1 } END { exit !found }'; then
    ready=1
    break
  fi
  sleep 0.5
done
[ -n "$ready" ] || fail "drover up's node was not Ready within 2 minutes (see its output above)"

# JENKINS_HOME lives in the data dir, with the rest of this drover's state.
install_flags+=(--set "persistence.hostPath=$data_dir/volumes/jenkins-home")
say "installing Jenkins ($jenkins_image, agents $agent_image): drover jenkins install"
if ! drover jenkins install --image "$jenkins_image" --agent-image "$agent_image" "${install_flags[@]}" >&2; then
  fail "drover jenkins install failed (see above); drover stays stopped, its state in $data_dir"
fi
info=$(drover jenkins info) || fail "drover jenkins info failed"
url=$(sed -n 's/^Jenkins URL (this host): *//p' <<<"$info")
user=$(sed -n 's/^admin user: *//p' <<<"$info")
cat >&2 <<MSG

==> Jenkins is up, and drover starts a build agent pod for each queued build:
      Jenkins URL:  $url   (from this host; pods use http://jenkins.jenkins.svc.cluster.local:8080/)
      admin user:   $user
      password:     bin/drover --kubeconfig $kubeconfig jenkins password
      a build end to end:   bin/drover --kubeconfig $kubeconfig jenkins demo
      the cloud's state:    bin/drover --kubeconfig $kubeconfig jenkins status
    export KUBECONFIG=$kubeconfig  (kubectl and drover then need no --kubeconfig)
    Ctrl-C stops drover; its state stays in $data_dir.
MSG

if [ -n "${DROVER_DEMO:-}" ]; then
  rc=0
  drover jenkins demo >&2 || rc=$?
  exit "$rc"
fi
trap - EXIT
rc=0
wait "$up" || rc=$?
exit "$rc"
