#!/usr/bin/env bash
# images.sh builds drover's test images on the engine at $DOCKER_HOST, without a registry:
# FROM scratch images holding one static Go program from cluster/container/images/<name>.
# Idempotent: the program is always built (Go's cache makes that cheap), and an image whose
# drover.program-sha256 label matches the program is kept; one built from other code is
# rebuilt (FORCE=1 rebuilds every image).
#
#   eval "$(scripts/docker-up.sh)" && scripts/images.sh
set -euo pipefail

cd "$(dirname "$0")/.."
: "${DOCKER_HOST:?DOCKER_HOST is not set (eval \"\$(scripts/docker-up.sh)\")}"
export DOCKER_BUILDKIT=0 # the engine is 20.10 and buildx may be missing: the classic builder
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# current IMAGE FILE: the image exists and was built from FILE (same sha256 label).
current() {
	local want have
	[ "${FORCE:-0}" != 1 ] || return 1
	want=$(sha256sum "$2" | cut -d' ' -f1)
	have=$(docker image inspect -f '{{ index .Config.Labels "drover.program-sha256" }}' "$1" 2>/dev/null) || return 1
	[ "$have" = "$want" ]
}

for name in pause testserver exit; do
	image="drover/$name:1"
	mkdir -p "$tmp/$name"
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$tmp/$name/$name" "./cluster/container/images/$name"
	if current "$image" "$tmp/$name/$name"; then
		echo "images: $image present" >&2
		continue
	fi
	printf 'FROM scratch\nCOPY %s /%s\nENTRYPOINT ["/%s"]\n' "$name" "$name" "$name" >"$tmp/$name/Dockerfile"
	if ! docker build -q -t "$image" --label drover.test-image=1 \
		--label "drover.program-sha256=$(sha256sum "$tmp/$name/$name" | cut -d' ' -f1)" "$tmp/$name" >"$tmp/build.log" 2>&1; then
		cat "$tmp/build.log" >&2
		exit 1
	fi
	echo "images: built $image" >&2
done

# Jenkins cloud test images (issue 6): the test agent (agents/testagent) as the inbound-agent
# entrypoint, java and swarm-client; the fake Jenkins 2.376 (cloud/jenkins/jenkinstest/fakejenkins).
jenkins_image() { # image dir binary package dockerfile
	local image=$1 dir=$tmp/$2
	mkdir -p "$dir"
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$dir/$3" "$4"
	if current "$image" "$dir/$3"; then
		echo "images: $image present" >&2
		return
	fi
	printf '%s\n' "$5" >"$dir/Dockerfile"
	if ! docker build -q -t "$image" --label drover.test-image=1 \
		--label "drover.program-sha256=$(sha256sum "$dir/$3" | cut -d' ' -f1)" "$dir" >"$tmp/build.log" 2>&1; then
		cat "$tmp/build.log" >&2
		exit 1
	fi
	echo "images: built $image" >&2
}
jenkins_image drover/jenkins-agent-test:1 jenkins-agent jenkins-agent ./agents/testagent/cmd/jenkins-agent 'FROM scratch
COPY jenkins-agent /usr/local/bin/jenkins-agent
COPY jenkins-agent /usr/bin/java
COPY jenkins-agent /usr/local/bin/swarm-client
ENV AGENT_WORKDIR=/home/jenkins/agent
WORKDIR /home/jenkins/agent
ENTRYPOINT ["/usr/local/bin/jenkins-agent"]'
jenkins_image drover/fake-jenkins:1 fake-jenkins fakejenkins ./cloud/jenkins/jenkinstest/fakejenkins 'FROM scratch
COPY fakejenkins /usr/local/bin/fakejenkins
ENV JENKINS_HOME=/var/jenkins_home
WORKDIR /var/jenkins_home
EXPOSE 8080 50000
ENTRYPOINT ["/usr/local/bin/fakejenkins"]'

# drover/incluster-test:1 (issue 14): internal/incluster, a client-go rest.InClusterConfig()
# program printing the HTTP status of listing pods and reading a Secret from inside a pod.
jenkins_image drover/incluster-test:1 incluster-test incluster-test ./internal/incluster 'FROM scratch
COPY incluster-test /incluster-test
ENTRYPOINT ["/incluster-test"]'

# drover/shell:1 (issue 15): a shell and the tools kubectl exec, cp and attach tests use (sh,
# cat, tar, stty, sha256sum, ...), copied with their shared libraries from this host: no
# registry is reachable, and the other images have no shell.
shell_tools="sh cat tar stty sleep sha256sum ls mkdir rm head true env wc dd mv cp find id uname date tty printf echo"
dir=$tmp/shell
mkdir -p "$dir/rootfs/tmp"
for tool in $shell_tools; do
	path=$(command -v "$tool" 2>/dev/null | grep / || true)
	[ -z "$path" ] && path=$(ls /usr/bin/"$tool" /bin/"$tool" 2>/dev/null | head -1)
	[ -n "$path" ] || { echo "images: $tool not found on this host (needed for drover/shell:1)" >&2; exit 1; }
	path=$(readlink -f "$path")
	mkdir -p "$dir/rootfs/bin"
	cp "$path" "$dir/rootfs/bin/$tool"
	ldd "$path" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
		mkdir -p "$dir/rootfs$(dirname "$lib")"
		cp -L "$lib" "$dir/rootfs$lib"
	done
done
mkdir -p "$dir/rootfs/usr" && ln -s ../bin "$dir/rootfs/usr/bin"
(cd "$dir/rootfs" && find . -type f | sort | xargs sha256sum) >"$dir/manifest"
if current drover/shell:1 "$dir/manifest"; then
	echo "images: drover/shell:1 present" >&2
else
	printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nCMD ["/bin/sh"]\n' >"$dir/Dockerfile"
	if ! docker build -q -t drover/shell:1 --label drover.test-image=1 \
		--label "drover.program-sha256=$(sha256sum "$dir/manifest" | cut -d' ' -f1)" "$dir" >"$tmp/build.log" 2>&1; then
		cat "$tmp/build.log" >&2
		exit 1
	fi
	echo "images: built drover/shell:1" >&2
fi
