#!/usr/bin/env bash
# images.sh builds drover's test images on the engine at $DOCKER_HOST, without a registry:
# FROM scratch images holding one static Go program from cluster/container/images/<name>.
# Idempotent: an image that exists is kept unless FORCE=1.
#
#   eval "$(scripts/docker-up.sh)" && scripts/images.sh
set -euo pipefail

cd "$(dirname "$0")/.."
: "${DOCKER_HOST:?DOCKER_HOST is not set (eval \"\$(scripts/docker-up.sh)\")}"
export DOCKER_BUILDKIT=0 # the engine is 20.10 and buildx may be missing: the classic builder
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for name in pause testserver exit; do
	image="drover/$name:1"
	if [ "${FORCE:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
		echo "images: $image present" >&2
		continue
	fi
	mkdir -p "$tmp/$name"
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$tmp/$name/$name" "./cluster/container/images/$name"
	printf 'FROM scratch\nCOPY %s /%s\nENTRYPOINT ["/%s"]\n' "$name" "$name" "$name" >"$tmp/$name/Dockerfile"
	if ! docker build -q -t "$image" --label drover.test-image=1 "$tmp/$name" >"$tmp/build.log" 2>&1; then
		cat "$tmp/build.log" >&2
		exit 1
	fi
	echo "images: built $image" >&2
done
