#!/usr/bin/env bash
# Builds, on the engine at $DOCKER_HOST and without any registry, the images Kubernetes'
# conformance tests (k8s.io/kubernetes v1.32.0, test/utils/image/manifest.go) run, under the
# exact names the tests expect:
#
#   registry.k8s.io/e2e-test-images/agnhost:2.53         agnhost built from the same module
#                                                        (scripts/conformance/build.sh), on a
#                                                        Debian minbase rootfs with the tools its
#                                                        upstream (Alpine) image has: dig/nslookup,
#                                                        curl, nc, ip, iperf, bash; the porter
#                                                        certificate, /uploads, the user 1000 and
#                                                        group 50000 it defines
#   registry.k8s.io/e2e-test-images/busybox:1.36.1-1     BusyBox 1.37.0 built from source (Debian's copy
#                                                        of the upstream tarball) with upstream's
#                                                        defconfig, static, applets linked in /bin
#   registry.k8s.io/e2e-test-images/httpd:2.4.38-4 and :2.4.39-4
#                                                        stand-ins: Debian's apache2 serving
#                                                        /usr/local/apache2/htdocs on :80 as the
#                                                        official httpd image does
#   registry.k8s.io/e2e-test-images/nginx:1.14-4 and :1.15-4
#                                                        stand-ins: Debian's nginx-light serving
#                                                        /usr/share/nginx/html on :80
#   registry.k8s.io/e2e-test-images/jessie-dnsutils:1.7  stand-in: the Debian base (dig, nslookup)
#   registry.k8s.io/e2e-test-images/nonewprivs:1.3       Kubernetes' nnp (from the same module), setuid root
#   registry.k8s.io/pause:3.10                           a tag of drover's own pause image
#   registry.k8s.io/e2e-test-images/sample-apiserver:1.29.2
#                                                        k8s.io/sample-apiserver v0.29.2 (build.sh)
#                                                        at /sample-apiserver, its entrypoint
#   registry.k8s.io/etcd:3.5.16-0                        etcd v3.5.16 (build.sh) at /usr/local/bin/etcd,
#                                                        where the Aggregator spec runs it
#
# The Debian rootfs is made once with debootstrap (installed from Debian's packages if
# missing) and cached as a tarball under $DROVER_CACHE/conformance. Idempotent: an image whose
# drover.conformance-sha256 label matches its inputs is kept (FORCE=1 rebuilds).
#
#   eval "$(scripts/docker-up.sh)" && scripts/conformance/images.sh BINDIR
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${DOCKER_HOST:?DOCKER_HOST is not set (eval \"\$(scripts/docker-up.sh)\")}"
bindir=${1:?usage: images.sh BINDIR (the directory scripts/conformance/build.sh printed)}
cache=${DROVER_CACHE:-$HOME/.cache/drover}/conformance
mkdir -p "$cache"
export DOCKER_BUILDKIT=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

suite=bookworm
mirror=${DROVER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages="bash,bash-static,ca-certificates,curl,dnsutils,iproute2,iperf,netcat-openbsd,procps,nginx-light,apache2,busybox-static"
rootfs_tar=$cache/rootfs-$suite-$(echo "$packages" | sha256sum | cut -c1-12).tar

if [ ! -s "$rootfs_tar" ]; then
  if ! command -v debootstrap >/dev/null; then
    echo "conformance images: installing debootstrap (Debian package)..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
  fi
  echo "conformance images: debootstrap $suite minbase with $packages (a few minutes, once)..." >&2
  root=$tmp/rootfs
  debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -30 "$tmp/debootstrap.log" >&2; exit 1; }
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
  tar -C "$root" --numeric-owner -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$root"
fi

base=drover/conformance-base:$suite
base_sum=$(sha256sum "$rootfs_tar" | cut -c1-16)
if [ "${FORCE:-0}" = 1 ] || [ "$(docker image inspect -f '{{ index .Config.Labels "drover.conformance-sha256" }}' "$base" 2>/dev/null)" != "$base_sum" ]; then
  echo "conformance images: importing $base..." >&2
  docker import -c "LABEL drover.conformance-sha256=$base_sum" -c "LABEL drover.test-image=1" "$rootfs_tar" "$base" >/dev/null
fi

# image NAME CONTEXT-DIR: builds CONTEXT-DIR/Dockerfile as NAME unless an image labelled with
# the same inputs exists.
image() {
  local name=$1 dir=$2 sum
  sum=$( (echo "$base_sum"; cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)
  if [ "${FORCE:-0}" != 1 ] && [ "$(docker image inspect -f '{{ index .Config.Labels "drover.conformance-sha256" }}' "$name" 2>/dev/null)" = "$sum" ]; then
    echo "conformance images: $name present" >&2
    return
  fi
  docker build -q -t "$name" --label drover.test-image=1 --label "drover.conformance-sha256=$sum" "$dir" >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log" >&2; exit 1; }
  echo "conformance images: built $name" >&2
}

e2e=registry.k8s.io/e2e-test-images
porter=$(go env GOMODCACHE)/k8s.io/kubernetes@${DROVER_K8S_E2E_VERSION:-v1.32.0}/test/images/agnhost/porter

mkdir -p "$tmp/agnhost"
cp "$bindir/agnhost" "$porter/localhost.crt" "$porter/localhost.key" "$tmp/agnhost/"
cat >"$tmp/agnhost/Dockerfile" <<DOCKERFILE
FROM $base
COPY localhost.crt localhost.key /
COPY agnhost /agnhost
RUN ln -s agnhost /agnhost-2 && mkdir /uploads && \\
    groupadd -g 50000 group-defined-in-image && \\
    useradd -u 1000 -U -M -s /bin/sh user-defined-in-image && \\
    usermod -a -G group-defined-in-image user-defined-in-image
EXPOSE 80 8080 8081 9376 5000
ENTRYPOINT ["/agnhost"]
CMD ["pause"]
DOCKERFILE
image "$e2e/agnhost:2.53" "$tmp/agnhost"

# busybox: built from the upstream source with upstream's defconfig (static), as the upstream
# image is. Debian's busybox-static will not do: Debian's ash drops environment variables whose
# names are not shell identifiers (the ConfigMap and Secret envFrom specs run `sh -c env` on keys
# like data-1, which upstream's ash passes on), and bash instead of ash words its errors
# differently (the read-only root filesystem spec expects ash's "can't create"). The source is
# the upstream tarball as Debian's archive carries it (busybox.net is not reachable from here),
# checked against the sha256 of Debian's Sources index; built once, cached.
bb_version=1.37.0
bb_sha256=3311dff32e746499f4df0d5df04d7eb396382d7e108bb9250e7b519b837043a4
bb_bin=$cache/busybox-$bb_version/busybox
if [ ! -x "$bb_bin" ]; then
  for tool in bzip2 make gcc; do
    command -v "$tool" >/dev/null && continue
    echo "conformance images: installing $tool (Debian package)..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$tool" >&2
  done
  bb_tar=$cache/busybox_$bb_version.orig.tar.bz2
  if ! echo "$bb_sha256  $bb_tar" | sha256sum -c --status 2>/dev/null; then
    echo "conformance images: downloading busybox $bb_version's source from $mirror..." >&2
    curl -fsS -o "$bb_tar.tmp" "$mirror/pool/main/b/busybox/busybox_$bb_version.orig.tar.bz2"
    echo "$bb_sha256  $bb_tar.tmp" | sha256sum -c --status ||
      { echo "conformance images: busybox_$bb_version.orig.tar.bz2 does not match its sha256 $bb_sha256" >&2; exit 1; }
    mv "$bb_tar.tmp" "$bb_tar"
  fi
  echo "conformance images: building busybox $bb_version (defconfig, static; about a minute, once)..." >&2
  tar -C "$tmp" -xjf "$bb_tar"
  (
    cd "$tmp/busybox-$bb_version"
    make defconfig >"$tmp/busybox-build.log" 2>&1
    sed -i 's/^# CONFIG_STATIC is not set$/CONFIG_STATIC=y/' .config
    grep -qx CONFIG_STATIC=y .config
    make -j"$(nproc)" >>"$tmp/busybox-build.log" 2>&1
  ) || { tail -30 "$tmp/busybox-build.log" >&2; exit 1; }
  mkdir -p "$(dirname "$bb_bin")"
  cp "$tmp/busybox-$bb_version/busybox" "$bb_bin.tmp"
  mv "$bb_bin.tmp" "$bb_bin"
fi

mkdir -p "$tmp/busybox"
cp "$bb_bin" "$tmp/busybox/busybox"
cat >"$tmp/busybox/Dockerfile" <<DOCKERFILE
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "mkdir", "-p", "/usr/bin", "/sbin", "/usr/sbin", "/tmp", "/etc", "/root"]
# Every applet in /bin, as the upstream busybox image has them (the Sysctls spec runs
# /bin/sysctl), and in its usual place too.
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/busybox", "--install", "-s"]
RUN echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && echo 'nobody:x:65534:65534:nobody:/home:/bin/false' >> /etc/passwd && \
    echo 'root:x:0:' > /etc/group && echo 'nogroup:x:65534:' >> /etc/group && chmod 1777 /tmp
CMD ["sh"]
DOCKERFILE
image "$e2e/busybox:1.36.1-1" "$tmp/busybox"

# nonewprivs: Kubernetes' test/images/nonewprivs (nnp, built by scripts/conformance/build.sh)
# setuid root, as its upstream Dockerfile makes it; it prints its effective UID.
mkdir -p "$tmp/nonewprivs"
cp "$bindir/nnp" "$tmp/nonewprivs/"
cat >"$tmp/nonewprivs/Dockerfile" <<DOCKERFILE
FROM $base
COPY nnp /usr/local/bin/nnp
RUN chmod +s /usr/local/bin/nnp
CMD ["nnp"]
DOCKERFILE
image "$e2e/nonewprivs:1.3" "$tmp/nonewprivs"

mkdir -p "$tmp/httpd"
cat >"$tmp/httpd/httpd-foreground" <<'SH'
#!/bin/sh
# The official httpd image's entrypoint, for Debian's apache2.
rm -f /run/apache2/apache2.pid
. /etc/apache2/envvars
exec apache2 -DFOREGROUND "$@"
SH
cat >"$tmp/httpd/Dockerfile" <<DOCKERFILE
FROM $base
COPY httpd-foreground /usr/local/bin/httpd-foreground
RUN chmod 755 /usr/local/bin/httpd-foreground && mkdir -p /usr/local/apache2/htdocs /run/apache2 && \\
    echo '<html><body><h1>It works!</h1></body></html>' > /usr/local/apache2/htdocs/index.html && \\
    sed -i 's#/var/www/html#/usr/local/apache2/htdocs#' /etc/apache2/sites-available/000-default.conf && \\
    printf '<Directory /usr/local/apache2/htdocs>\n Require all granted\n</Directory>\n' >> /etc/apache2/apache2.conf && \\
    ln -sf /dev/stdout /var/log/apache2/access.log && ln -sf /dev/stderr /var/log/apache2/error.log
EXPOSE 80
CMD ["httpd-foreground"]
DOCKERFILE
image "$e2e/httpd:2.4.38-4" "$tmp/httpd"
docker tag "$e2e/httpd:2.4.38-4" "$e2e/httpd:2.4.39-4"

mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/Dockerfile" <<DOCKERFILE
FROM $base
RUN mkdir -p /usr/share/nginx/html && \\
    echo '<html><body><h1>Welcome to nginx!</h1></body></html>' > /usr/share/nginx/html/index.html && \\
    sed -i 's#root /var/www/html;#root /usr/share/nginx/html;#' /etc/nginx/sites-available/default && \\
    ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
DOCKERFILE
image "$e2e/nginx:1.14-4" "$tmp/nginx"
docker tag "$e2e/nginx:1.14-4" "$e2e/nginx:1.15-4"

# The Aggregator spec's extension API server and its etcd sidecar.
mkdir -p "$tmp/sample-apiserver"
cp "$bindir/sample-apiserver" "$tmp/sample-apiserver/"
cat >"$tmp/sample-apiserver/Dockerfile" <<DOCKERFILE
FROM $base
COPY sample-apiserver /sample-apiserver
ENTRYPOINT ["/sample-apiserver"]
DOCKERFILE
image "$e2e/sample-apiserver:1.29.2" "$tmp/sample-apiserver"

mkdir -p "$tmp/etcd"
cp "$bindir/etcd" "$tmp/etcd/"
cat >"$tmp/etcd/Dockerfile" <<DOCKERFILE
FROM $base
COPY etcd /usr/local/bin/etcd
EXPOSE 2379 2380
CMD ["/usr/local/bin/etcd"]
DOCKERFILE
image "registry.k8s.io/etcd:3.5.16-0" "$tmp/etcd"

docker tag "$base" "$e2e/jessie-dnsutils:1.7"
docker tag drover/pause:1 registry.k8s.io/pause:3.10
echo "conformance images: ready" >&2
