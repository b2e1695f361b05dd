#!/usr/bin/env bash
# `make up`: builds bin/drover and runs `drover up` in the foreground (Ctrl-C stops it): the
# API server on the embedded store, the controllers and a node agent on a Docker engine.
#
# Docker: DOCKER_HOST when it answers; else a system engine at /var/run/docker.sock; else a
# private dockerd started by scripts/docker-up.sh (installing docker.io through apt when
# dockerd is missing). A private engine this script started keeps running after Ctrl-C so that
# the pods' containers survive a restart of drover; scripts/docker-down.sh stops it.
#
#   DROVER_DATA_DIR  state, certificates, admin token and kubeconfig (default ~/.local/share/drover)
# Extra arguments go to `drover up` (e.g. --listen 127.0.0.1:7443).
set -euo pipefail
cd "$(dirname "$0")/.."

data_dir=${DROVER_DATA_DIR:-$HOME/.local/share/drover}
make --no-print-directory build
mkdir -p "$data_dir"

if [ -n "${DOCKER_HOST:-}" ] && docker version >/dev/null 2>&1; then
  :
elif [ -S /var/run/docker.sock ] && docker -H unix:///var/run/docker.sock version >/dev/null 2>&1; then
  export DOCKER_HOST=unix:///var/run/docker.sock
else
  eval "$(scripts/docker-up.sh)"
  export DOCKER_HOST
fi

cat >&2 <<MSG
==> drover up --data-dir $data_dir $* (Docker: $DOCKER_HOST)
    It writes $data_dir/kubeconfig on start; in another shell:
      export KUBECONFIG=$data_dir/kubeconfig
      kubectl get nodes
      kubectl apply -f examples/walkthrough/
    Ctrl-C stops drover; its state stays in $data_dir.
MSG
exec bin/drover up --data-dir "$data_dir" "$@"
