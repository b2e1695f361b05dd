#!/usr/bin/env bash
# Builds local stand-ins for the article's images under their names, so the walkthrough's
# manifests run unchanged with no registry: csanchez/jenkins-swarm:1.625.1-for-volumes (an HTTP
# server on 8080 with an agent port 50000 and JENKINS_HOME on /var/jenkins_home) and
# csanchez/jenkins-swarm-slave:2.0-net-tools (/usr/local/bin/jenkins-slave.sh registering with
# the master, and a /bin/sh that answers the liveness probe's netstat check). Uses DOCKER_HOST.
#   FORCE=1 rebuilds images that exist.
set -euo pipefail
cd "$(dirname "$0")"
master=csanchez/jenkins-swarm:1.625.1-for-volumes
agent=csanchez/jenkins-swarm-slave:2.0-net-tools
# A Docker engine must answer first: say which one was asked and how to point at drover's.
if ! err=$(docker version --format '{{.Server.Version}}' 2>&1 >/dev/null); then
  {
    echo "images/build.sh: no Docker engine answers at ${DOCKER_HOST:-unix:///var/run/docker.sock}:"
    printf '  %s\n' "$err"
    echo "  export the DOCKER_HOST that \`make up\` printed (its private engine: export DOCKER_HOST=unix:///tmp/drover-docker/docker.sock) and rerun"
  } >&2
  exit 1
fi
if [ -z "${FORCE:-}" ] && docker image inspect "$master" "$agent" >/dev/null 2>&1; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for p in master agent sh; do
  CGO_ENABLED=0 go build -o "$work/$p" "./$p"
done
mkdir -p "$work/m" "$work/a"
cp "$work/master" "$work/m/jenkins"
printf 'FROM scratch\nCOPY jenkins /jenkins\nEXPOSE 8080 50000\nENTRYPOINT ["/jenkins"]\n' >"$work/m/Dockerfile"
cp "$work/agent" "$work/a/jenkins-slave.sh"
cp "$work/sh" "$work/a/sh"
printf 'FROM scratch\nCOPY jenkins-slave.sh /usr/local/bin/jenkins-slave.sh\nCOPY sh /bin/sh\nENTRYPOINT ["/usr/local/bin/jenkins-slave.sh"]\n' >"$work/a/Dockerfile"
for pair in "$master:m" "$agent:a"; do
  image=${pair%:*} dir=$work/${pair##*:}
  if ! out=$(DOCKER_BUILDKIT=0 docker build -q -t "$image" "$dir" 2>&1); then
    printf 'images/build.sh: docker build of %s failed:\n%s\n' "$image" "$out" >&2
    exit 1
  fi
done
echo "built $master and $agent" >&2
