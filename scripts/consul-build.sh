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
cores=$(nproc 2>/dev/null || echo 1)
echo "consul-build: building Consul $version from the Go module proxy into $cache/bin, once." >&2
echo "consul-build: it compiles about 1,000 packages: tens of minutes on $cores cores the first time (cached afterwards)." >&2
(
  cd "$work"
  export GOFLAGS=-mod=mod GOTOOLCHAIN=local
  go mod init consulbuild >/dev/null 2>&1
  echo "consul-build: downloading the modules..." >&2
  go get "github.com/hashicorp/consul@v$version" 2>&1 | grep -v '^go: downloading' >&2 || true
  total=$(go list -deps github.com/hashicorp/consul | wc -l)
  start=$(date +%s)
  # go build -v names each package as it is compiled: one progress line every 50 of them.
  # (Packages already in Go's build cache are not named, so a rerun may end early.)
  set +o pipefail
  rm -f "$bin.tmp"
  n=0
  CGO_ENABLED=0 go build -v -o "$bin.tmp" github.com/hashicorp/consul 2>&1 |
    while IFS= read -r line; do
      case $line in
        *' '* | *:*) printf '%s\n' "$line" ;; # an error or a note, not a package path
        *)
          n=$((n + 1))
          [ $((n % 50)) -ne 0 ] ||
            echo "consul-build: compiled $n of about $total packages ($(($(date +%s) - start)) s)"
          ;;
      esac
    done >&2
  set -o pipefail
  [ -x "$bin.tmp" ] || { echo "consul-build: go build failed (see above)" >&2; exit 1; }
  echo "consul-build: done in $(($(date +%s) - start)) s" >&2
)
mv "$bin.tmp" "$bin"
echo "$bin"
