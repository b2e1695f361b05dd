#!/usr/bin/env bash
# Builds a real Consul server binary (v1.19.2) from the Go module proxy into the cache
# directory, once. Prints the binary's path. Idempotent: an existing binary is reused.
#
#   DROVER_CACHE  cache directory (default $HOME/.cache/drover)
set -euo pipefail
version=1.19.2
cache=${DROVER_CACHE:-$HOME/.cache/drover}
bin=$cache/bin/consul-$version
if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi
mkdir -p "$cache/bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "building consul $version (takes a few minutes the first time)..." >&2
(
  cd "$work"
  export GOFLAGS=-mod=mod GOTOOLCHAIN=local
  go mod init consulbuild >/dev/null 2>&1
  go get "github.com/hashicorp/consul@v$version" >&2
  CGO_ENABLED=0 go build -o "$bin.tmp" github.com/hashicorp/consul >&2
)
mv "$bin.tmp" "$bin"
echo "$bin"
