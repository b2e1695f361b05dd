#!/usr/bin/env bash
# Builds Kubernetes' conformance test binaries from the Go module k8s.io/kubernetes in a
# throwaway module outside the tree, once, and caches them:
#
#   $DROVER_CACHE/conformance/v1.32.0/{e2e.test,ginkgo,agnhost,nnp,sample-apiserver,etcd}
#
# sample-apiserver (k8s.io/sample-apiserver v0.29.2, what the e2e image sample-apiserver:1.29.2
# is built from) and etcd (go.etcd.io/etcd/server/v3 v3.5.16, the image etcd:3.5.16-0's) are
# built each in a throwaway module of its own: their dependency graphs are not Kubernetes 1.32's.
#
# Prints that directory. Idempotent: binaries that exist and run are reused. The first build
# compiles most of Kubernetes (tens of minutes on 2 cores); later runs take a second.
#
#   DROVER_CACHE             cache directory (default $HOME/.cache/drover)
#   DROVER_K8S_E2E_VERSION   the k8s.io/kubernetes release (default v1.32.0)
set -euo pipefail
version=${DROVER_K8S_E2E_VERSION:-v1.32.0}
cache=${DROVER_CACHE:-$HOME/.cache/drover}
out=$cache/conformance/$version
if [ -x "$out/e2e.test" ] && [ -x "$out/ginkgo" ] && [ -x "$out/agnhost" ] && [ -x "$out/nnp" ] &&
  [ -x "$out/sample-apiserver" ] && [ -x "$out/etcd" ] && "$out/ginkgo" version >/dev/null 2>&1; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
# The staging modules k8s.io/kubernetes replaces with ./staging/src/k8s.io/X are published as
# k8s.io/X v0.MINOR.PATCH; a module outside that repository needs one replace for each.
staging_version=v0.${version#v1.}
work=$cache/conformance/src-$version # kept: a failed build resumes with its module cache warm
mkdir -p "$work"
cd "$work"
modfile=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$version.mod
if [ ! -f "$modfile" ]; then
  GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$version" >/dev/null
fi
{
  echo "module drover.io/conformance-build"
  echo
  echo "go 1.23"
  echo
  echo "require k8s.io/kubernetes $version"
  echo
  echo "replace ("
  sed -n '/^replace (/,/^)/p' "$modfile" | grep -oE '^\s*k8s\.io/[a-z0-9-]+ => ./staging' |
    awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
  echo ")"
} > go.mod
cat > tools.go <<'GO'
//go:build tools

// Package tools pins the conformance binaries' packages in this throwaway module.
package tools

import (
	_ "github.com/onsi/ginkgo/v2/ginkgo"
	_ "k8s.io/kubernetes/test/e2e"
	_ "k8s.io/kubernetes/test/images/agnhost"
	_ "k8s.io/kubernetes/test/images/nonewprivs"
)
GO
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
echo "resolving k8s.io/kubernetes $version's module graph..." >&2
go mod tidy -e >&2
# Each binary is built when it is missing (a cache from before a binary was added keeps the
# others).
build() { # NAME PACKAGE GO-SUBCOMMAND...
  local name=$1 pkg=$2
  shift 2
  [ -x "$out/$name" ] && return 0
  echo "building $name..." >&2
  go "$@" -o "$out/$name.tmp" "$pkg" >&2
  mv "$out/$name.tmp" "$out/$name"
}
build ginkgo github.com/onsi/ginkgo/v2/ginkgo build
build agnhost k8s.io/kubernetes/test/images/agnhost build
build nnp k8s.io/kubernetes/test/images/nonewprivs build
echo "building e2e.test when missing (tens of minutes on 2 cores the first time)..." >&2
build e2e.test k8s.io/kubernetes/test/e2e test -c -vet=off

# standalone NAME MODULE@VERSION [PACKAGE]: builds a main package of a module of its own in a
# throwaway module (the module's own replace directives, which pin siblings or the versions it
# requires anyway, do not apply to a dependency).
standalone() {
  local name=$1 modver=$2 pkg=${3:-${2%@*}} dir
  dir=$cache/conformance/src-$name
  [ -x "$out/$name" ] && return 0
  echo "building $name from $modver..." >&2
  mkdir -p "$dir"
  (
    cd "$dir"
    printf 'module drover.io/conformance-%s\n\ngo 1.23\n' "$name" >go.mod
    go get "$modver" >&2
    go build -trimpath -o "$out/$name.tmp" "$pkg" >&2
  )
  mv "$out/$name.tmp" "$out/$name"
}
standalone sample-apiserver k8s.io/sample-apiserver@v0.29.2
standalone etcd go.etcd.io/etcd/server/v3@v3.5.16
echo "$out"
