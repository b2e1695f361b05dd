#!/usr/bin/env bash
# docker-down.sh stops the private Docker engine scripts/docker-up.sh started and removes its
# state (containers, images, networks) and mounts. It never touches another dockerd.
#   KEEP_STATE=1 keeps $STATE/data (the built images) for the next docker-up.sh.
set -euo pipefail

STATE=${DROVER_DOCKER_STATE:-/tmp/drover-docker}
log() { echo "docker-down: $*" >&2; }

# The bridges of this engine's networks outlive it when its state goes: note them first.
bridges=()
if [ "${KEEP_STATE:-0}" != 1 ] && [ -S "$STATE/docker.sock" ]; then
	while read -r id name; do
		[ -n "$id" ] || continue
		[ -n "$name" ] && [ "$name" != "<no value>" ] && continue # a named bridge (docker0) is the host's
		bridges+=("br-${id:0:12}")
	done < <(docker -H "unix://$STATE/docker.sock" network ls -q --filter driver=bridge 2>/dev/null |
		xargs -r docker -H "unix://$STATE/docker.sock" network inspect -f '{{.ID}} {{index .Options "com.docker.network.bridge.name"}}' 2>/dev/null)
fi

if [ -f "$STATE/docker.pid" ]; then
	pid=$(cat "$STATE/docker.pid")
	if kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/$pid/comm" 2>/dev/null; then
		log "stopping dockerd (pid $pid)"
		kill -TERM "$pid"
		for _ in $(seq 1 60); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "dockerd did not stop in 30s: killing it"
			kill -KILL "$pid" || true
		fi
	fi
	rm -f "$STATE/docker.pid"
fi

# Unmount whatever is left under the state directory, deepest first.
if [ -d "$STATE" ]; then
	awk -v s="$STATE" '$2 == s || index($2, s "/") == 1 { print $2 }' /proc/self/mounts |
		sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	if [ "${KEEP_STATE:-0}" = 1 ]; then
		rm -rf "$STATE/exec" "$STATE/docker.sock"
	else
		rm -rf "$STATE"
	fi
fi
for br in "${bridges[@]}"; do
	if [ -d "/sys/class/net/$br" ]; then
		ip link delete "$br" 2>/dev/null && log "removed bridge $br" || log "could not remove bridge $br"
	fi
done
log "done"
