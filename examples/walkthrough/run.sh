#!/usr/bin/env bash
# The article's walkthrough as a script, against a running drover (`make up` in another
# terminal) or any cluster KUBECONFIG points at. Without the article's images (no registry is
# reachable here) it first builds local stand-ins under the same names (images/build.sh).
#
#   KUBECONFIG   default: ~/.local/share/drover/kubeconfig
#   DROVER       the drover binary (default: bin/drover, for rolling-update)
set -euo pipefail
cd "$(dirname "$0")"
export KUBECONFIG=${KUBECONFIG:-$HOME/.local/share/drover/kubeconfig}
drover=${DROVER:-../../bin/drover}
step() { printf '\n==> %s\n' "$*"; }
wait_pods() { # selector count
  for _ in $(seq 1 120); do
    n=$(kubectl get pods -l "$1" --field-selector=status.phase=Running -o name | wc -l)
    [ "$n" -eq "$2" ] && return 0
    sleep 1
  done
  echo "timed out waiting for $2 running pods with $1" >&2
  kubectl get pods -o wide >&2
  return 1
}

step "stand-in images"
if [ -z "${DOCKER_HOST:-}" ] && [ -S /tmp/drover-docker/docker.sock ] && [ ! -S /var/run/docker.sock ]; then
  # `make up` started drover's private engine; use it rather than failing on the default socket.
  export DOCKER_HOST=unix:///tmp/drover-docker/docker.sock
  echo "(DOCKER_HOST unset: using drover's private engine, $DOCKER_HOST)" >&2
fi
bash images/build.sh

step "the Jenkins master: a replication controller of size one, and its service"
kubectl create -f jenkins-master-vagrant.yml
kubectl create -f service-vagrant.yml
wait_pods name=jenkins 1
kubectl get rc,pods,svc -o wide

step "swarm agents, then scaled to 3"
kubectl create -f jenkins-slaves.yml
kubectl scale rc jenkins-slave --replicas=3
wait_pods name=jenkins-slave 3
kubectl get pods -o wide

step "rolling update to v2, one pod every 10 seconds"
"$drover" rolling-update jenkins-slave --update-period=10s -f v2/jenkins-slaves-v2.yml
kubectl get rc

step "self-healing: kill the master, its controller starts another"
master=$(kubectl get pods -l name=jenkins -o jsonpath='{.items[0].metadata.name}')
kubectl delete pod "$master"
wait_pods name=jenkins 1
kubectl get pods -o wide
echo
echo "done; tear down with: kubectl delete rc jenkins jenkins-slave-v2 && kubectl delete svc jenkins"
