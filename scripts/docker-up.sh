#!/usr/bin/env bash
# docker-up.sh starts a private Docker engine for drover's tests and prints the DOCKER_HOST
# to use. Idempotent: installs docker.io through apt when dockerd is missing, and reuses an
# engine that already answers on the socket.
#
#   eval "$(scripts/docker-up.sh)"
#
# State lives in ${DROVER_DOCKER_STATE:-/tmp/drover-docker}; scripts/docker-down.sh undoes it.
# On these machines (Debian 12, root, no kernel modules, cgroup v1) the engine runs with its
# defaults too (iptables works through nf_tables), but --iptables=false --ip-masq=false keeps
# this private engine from rewriting the host's firewall (FORWARD rules, and a nat OUTPUT
# DOCKER chain that would catch traffic to addresses on lo, i.e. cluster IPs). Published
# ports then go through docker-proxy (the userland proxy), which works. Extra flags:
# DROVER_DOCKERD_FLAGS.
set -euo pipefail

STATE=${DROVER_DOCKER_STATE:-/tmp/drover-docker}
SOCK="$STATE/docker.sock"
HOST="unix://$SOCK"
TIMEOUT=${DROVER_DOCKER_TIMEOUT:-60}
log() { echo "docker-up: $*" >&2; }

if ! command -v dockerd >/dev/null 2>&1; then
	log "dockerd missing: installing docker.io with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends docker.io >&2
fi

answers() { docker -H "$HOST" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

mkdir -p "$STATE/data" "$STATE/exec"
if ! answers; then
	if [ -f "$STATE/docker.pid" ] && kill -0 "$(cat "$STATE/docker.pid")" 2>/dev/null; then
		log "dockerd (pid $(cat "$STATE/docker.pid")) runs but does not answer yet"
	else
		rm -f "$STATE/docker.pid" "$SOCK"
		log "starting dockerd (state $STATE)"
		# setsid: the engine outlives this script and the caller's job control.
		setsid dockerd \
			--data-root "$STATE/data" \
			--exec-root "$STATE/exec" \
			-H "$HOST" \
			--pidfile "$STATE/docker.pid" \
			--storage-driver overlay2 \
			--iptables=false --ip6tables=false --ip-masq=false \
			--userland-proxy=true \
			${DROVER_DOCKERD_FLAGS:-} \
			</dev/null >"$STATE/dockerd.log" 2>&1 &
	fi
	deadline=$((SECONDS + TIMEOUT))
	until answers; do
		if [ $SECONDS -ge $deadline ]; then
			log "dockerd did not answer on $HOST within ${TIMEOUT}s; last log lines:"
			tail -n 30 "$STATE/dockerd.log" >&2 || true
			exit 1
		fi
		if [ -f "$STATE/docker.pid" ] && ! kill -0 "$(cat "$STATE/docker.pid")" 2>/dev/null; then
			log "dockerd exited; last log lines:"
			tail -n 30 "$STATE/dockerd.log" >&2 || true
			exit 1
		fi
		sleep 0.5
	done
	log "dockerd $(docker -H "$HOST" version --format '{{.Server.Version}}') answers on $HOST"
fi

# Bridges a Docker engine left behind when its state was removed (a machine or /tmp wiped
# under a running engine, a killed test) keep their addresses: a new network on the same
# subnet then gets its own bridge, replies to its containers leave through the stale one, and
# pods cannot reach the host. Remove every br-<id> bridge with no port that no running engine
# (this one, the system's, any other dockerd's -H unix socket) knows as a network.
known_ids() {
	local socks=("$SOCK") s
	[ -S /var/run/docker.sock ] && socks+=(/var/run/docker.sock)
	for s in $(ps -eo args= | grep -o -- '-H unix://[^ ]*\|--host=unix://[^ ]*' | sed 's|.*unix://||'); do
		[ -S "$s" ] && socks+=("$s")
	done
	for s in "${socks[@]}"; do
		docker -H "unix://$s" network ls --no-trunc -q 2>/dev/null || echo "unknown:$s"
	done
}
stale_bridges() {
	local ids br
	ids=$(known_ids)
	if grep -q '^unknown:' <<<"$ids"; then
		return 0 # an engine did not answer: its bridges cannot be told from stale ones
	fi
	for br in /sys/class/net/br-*; do
		[ -d "$br/bridge" ] || continue
		br=${br##*/}
		[[ $br =~ ^br-[0-9a-f]{12}$ ]] || continue
		[ -z "$(ls "/sys/class/net/$br/brif" 2>/dev/null)" ] || continue
		grep -q "^${br#br-}" <<<"$ids" || echo "$br"
	done
}
for br in $(stale_bridges); do
	log "removing bridge $br (left by a Docker engine that is gone: $(ip -4 -o addr show dev "$br" 2>/dev/null | awk '{print $4}' | paste -sd, -))"
	ip link delete "$br" >&2 || log "could not remove $br"
done
echo "export DOCKER_HOST=$HOST"
