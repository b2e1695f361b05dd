#!/usr/bin/env bash
# multihost.sh simulates several Docker hosts on this machine, for drover's multi-host tests
# and demos:
#
#   scripts/multihost.sh up N        # N hosts (default 3); removes stale leftovers first
#   scripts/multihost.sh down        # removes everything (idempotent, also after a crash)
#   scripts/multihost.sh list        # one line per host: NAME IP DOCKER_HOST
#   scripts/multihost.sh exec I CMD… # runs CMD in host I's network namespace, DOCKER_HOST set
#
# Host I is a network namespace ${MH_PREFIX}I joined by a veth pair to the Linux bridge
# ${MH_PREFIX}br (${MH_NET}.1/24, in the root namespace, where `drover server` runs), with
# address ${MH_NET}.(10+I), a default route via the bridge and IPv4 forwarding on. Each host
# has its own dockerd, started with `nsenter --net=/run/netns/NAME` (`ip netns exec` would
# remount /sys, hiding the cgroup mounts, and dockerd refuses to start), with its own
# data/exec roots, pidfile and socket under ${MH_STATE}/NAME, --bridge=none --iptables=false
# --ip-masq=false, and its containers under the cgroup parent /NAME (so `down` finds them
# even if dockerd died). The images in ${MH_IMAGES} are copied from the main engine
# (DOCKER_HOST, or scripts/docker-up.sh's) into each host's engine (`docker save | docker load`).
#
# A node agent for host I:
#   scripts/multihost.sh exec I drover node --kubeconfig K --node-name NAME --node-ip IP --host-gw
#
# Settings: MH_PREFIX (mh), MH_NET (172.30.0), MH_STATE (/tmp/drover-multihost-$MH_PREFIX),
# MH_IMAGES ("drover/pause:1 drover/testserver:1"), MH_TIMEOUT (60 s for each dockerd).
set -euo pipefail

PREFIX=${MH_PREFIX:-mh}
NET=${MH_NET:-172.30.0}
STATE=${MH_STATE:-/tmp/drover-multihost-$PREFIX}
IMAGES=${MH_IMAGES:-drover/pause:1 drover/testserver:1}
TIMEOUT=${MH_TIMEOUT:-60}
BR="${PREFIX}br"
log() { echo "multihost: $*" >&2; }

host_names() {
	# Namespaces and state directories with our prefix, whichever exist.
	{
		ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${PREFIX}[0-9]+$" || true
		[ -d "$STATE" ] && find "$STATE" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | grep -E "^${PREFIX}[0-9]+$" || true
	} | sort -u
}

# kill_cgroup NAME kills every process in the cgroups under /NAME (the host's containers).
kill_cgroup() {
	local name=$1 d
	for d in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/"$name"; do
		[ -d "$d" ] || continue
		find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	done
	sleep 0.2
	for d in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/"$name"; do
		[ -d "$d" ] || continue
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	done
}

down_host() {
	local name=$1 dir="$STATE/$1" pid
	if [ -f "$dir/docker.pid" ]; then
		pid=$(cat "$dir/docker.pid")
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
			kill -9 "$pid" 2>/dev/null || true
		fi
	fi
	# Whatever still runs in the namespace (node agents, containerd, shims) and the containers.
	if [ -e "/run/netns/$name" ]; then
		ip netns pids "$name" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	fi
	kill_cgroup "$name"
	if [ -d "$dir" ]; then
		grep -F " $dir/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	fi
	ip netns del "$name" 2>/dev/null || true
	ip link del "${name}v" 2>/dev/null || true
	rm -rf "$dir"
}

down() {
	local n
	for n in $(host_names); do
		down_host "$n"
	done
	ip link del "$BR" 2>/dev/null || true
	rm -rf "$STATE"
	log "removed hosts ${PREFIX}* and bridge $BR"
}

main_engine() {
	if [ -z "${DOCKER_HOST:-}" ]; then
		eval "$("$(dirname "$0")/docker-up.sh")"
	fi
	echo "$DOCKER_HOST"
}

up_host() {
	local i=$1 name="${PREFIX}$1" ip="${NET}.$((10 + $1))" dir="$STATE/${PREFIX}$1" main=$2
	mkdir -p "$dir/data" "$dir/exec" "$dir/node"
	ip netns add "$name"
	ip link add "${name}v" type veth peer name eth0 netns "$name"
	ip link set "${name}v" master "$BR" up
	ip -n "$name" addr add "$ip/24" dev eth0
	ip -n "$name" link set lo up
	ip -n "$name" link set eth0 up
	ip -n "$name" route add default via "${NET}.1"
	nsenter --net="/run/netns/$name" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
	local sock="unix://$dir/docker.sock"
	nsenter --net="/run/netns/$name" setsid dockerd \
		--data-root "$dir/data" --exec-root "$dir/exec" -H "$sock" --pidfile "$dir/docker.pid" \
		--storage-driver overlay2 --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
		--userland-proxy=true --cgroup-parent "/$name" --shutdown-timeout 2 \
		</dev/null >"$dir/dockerd.log" 2>&1 &
	local deadline=$((SECONDS + TIMEOUT))
	until docker -H "$sock" version >/dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			log "dockerd of $name did not answer within ${TIMEOUT}s:"
			tail -n 20 "$dir/dockerd.log" >&2
			return 1
		fi
		sleep 0.3
	done
	# shellcheck disable=SC2086
	docker -H "$main" save $IMAGES | docker -H "$sock" load -q >/dev/null
	echo "$name $ip $sock" >"$dir/host"
	log "host $name: $ip, DOCKER_HOST=$sock"
}

up() {
	local n=${1:-3} main i
	[ "$(id -u)" = 0 ] || { log "needs root (network namespaces, bridges, dockerd)"; exit 1; }
	for tool in ip nsenter dockerd docker; do
		command -v "$tool" >/dev/null || { log "$tool not found"; exit 1; }
	done
	main=$(main_engine)
	# shellcheck disable=SC2086
	docker -H "$main" image inspect $IMAGES >/dev/null || { log "images missing on $main: $IMAGES (scripts/images.sh builds them)"; exit 1; }
	down 2>/dev/null
	mkdir -p "$STATE"
	ip link add "$BR" type bridge
	ip addr add "${NET}.1/24" dev "$BR"
	ip link set "$BR" up
	for i in $(seq 1 "$n"); do
		up_host "$i" "$main" &
	done
	local failed=0
	for i in $(seq 1 "$n"); do wait -n || failed=1; done
	if [ $failed = 1 ]; then
		log "a host did not come up; removing all"
		down
		exit 1
	fi
	list
}

list() {
	local n
	for n in $(host_names); do
		[ -f "$STATE/$n/host" ] && cat "$STATE/$n/host"
	done
	return 0
}

run_in() {
	local i=$1 name="${PREFIX}$1"
	shift
	[ -f "$STATE/$name/host" ] || { log "no host $name (scripts/multihost.sh up first)"; exit 1; }
	DOCKER_HOST="unix://$STATE/$name/docker.sock" exec nsenter --net="/run/netns/$name" "$@"
}

case "${1:-}" in
up) up "${2:-3}" ;;
down) down ;;
list) list ;;
exec) shift; run_in "$@" ;;
*)
	echo "usage: $0 up [N] | down | list | exec I CMD..." >&2
	exit 2
	;;
esac
