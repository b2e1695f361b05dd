#!/usr/bin/env bash
# Builds a local stand-in for busybox:1.36 (the image examples/jobs' containers use) on the
# engine at DOCKER_HOST, for hosts that cannot pull from Docker Hub: Debian's static busybox
# (the busybox-static package, fetched with apt-get download) in a FROM scratch image with its
# applets installed in /bin (sh, tar, find, ls, date, ...). Idempotent; FORCE=1 rebuilds.
#   IMAGE  the tag to build (default busybox:1.36)
set -euo pipefail
image=${IMAGE:-busybox:1.36}
if ! err=$(docker version --format '{{.Server.Version}}' 2>&1 >/dev/null); then
  {
    echo "busybox.sh: no Docker engine answers at ${DOCKER_HOST:-unix:///var/run/docker.sock}:"
    printf '  %s\n' "$err"
    echo "  export the DOCKER_HOST that \`make up\` printed (its private engine: export DOCKER_HOST=unix:///tmp/drover-docker/docker.sock) and rerun"
  } >&2
  exit 1
fi
if [ -z "${FORCE:-}" ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "busybox.sh: $image is present (FORCE=1 rebuilds it)" >&2
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "busybox.sh: fetching Debian's busybox-static package..." >&2
if ! out=$(apt-get download busybox-static 2>&1); then
  apt-get update -qq >/dev/null 2>&1 || true
  out=$(apt-get download busybox-static 2>&1) || {
    printf 'busybox.sh: apt-get download busybox-static failed:\n%s\n' "$out" >&2
    exit 1
  }
fi
dpkg-deb -x busybox-static_*.deb root
mkdir -p ctx
cp root/bin/busybox ctx/busybox
printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["/bin/sh"]\n' >ctx/Dockerfile
if ! out=$(DOCKER_BUILDKIT=0 docker build -q -t "$image" --label drover.stand-in=busybox-static ctx 2>&1); then
  printf 'busybox.sh: docker build of %s failed:\n%s\n' "$image" "$out" >&2
  exit 1
fi
echo "busybox.sh: built $image ($(root/bin/busybox | head -n1))" >&2
