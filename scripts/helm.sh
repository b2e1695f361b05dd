#!/usr/bin/env bash
# Builds the real Helm CLI (v3) from the Go module proxy into the cache directory, once, and
# prints the binary's path. Idempotent: an existing binary that runs is reused.
#
#   DROVER_CACHE  cache directory (default $HOME/.cache/drover)
#   DROVER_HELM_VERSION  the helm.sh/helm/v3 release (default below: the newest v3 release that
#                        builds with this machine's Go; helm's own k8s.io modules are its own,
#                        independent of drover's go.mod, since this is a separate `go install`)
set -euo pipefail
version=${DROVER_HELM_VERSION:-v3.21.4}
cache=${DROVER_CACHE:-$HOME/.cache/drover}
bin=$cache/bin/helm-$version
if [ -x "$bin" ] && "$bin" version --short >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi
mkdir -p "$cache/bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "building helm $version with go install (several minutes on 2 cores the first time, then cached)..." >&2
(
  cd "$work"
  export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN="$work/bin"
  # The version string helm prints is set by its Makefile's ldflags; set it the same way.
  go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$version" \
    "helm.sh/helm/v3/cmd/helm@$version" >&2
)
mv "$work/bin/helm" "$bin"
echo "$bin"
