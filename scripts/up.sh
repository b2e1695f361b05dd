#!/usr/bin/env bash
# Builds bin/drover and runs the API server in the foreground on the local data dir (Ctrl-C
# stops it). Extra arguments go to `drover server` (e.g. --listen 127.0.0.1:7443).
#
# For now `make up` starts only the server, the one component that exists. When the node agent
# and controllers exist this becomes `drover up` (server + controllers + node agent on the local
# Docker engine) and this script shrinks to a build and an exec.
#
#   DROVER_DATA_DIR  state, certificates, admin token and kubeconfig (default ~/.local/share/drover)
set -euo pipefail
cd "$(dirname "$0")/.."

data_dir=${DROVER_DATA_DIR:-$HOME/.local/share/drover}
make --no-print-directory build
mkdir -p "$data_dir"

cat >&2 <<MSG
==> drover server --data-dir $data_dir $*
    It writes $data_dir/kubeconfig on start; in another shell:
      export KUBECONFIG=$data_dir/kubeconfig
      kubectl get namespaces
    Ctrl-C stops the server; its state stays in $data_dir.
MSG
exec bin/drover server --data-dir "$data_dir" "$@"
