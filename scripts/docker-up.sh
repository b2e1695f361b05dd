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
echo "export DOCKER_HOST=$HOST"
