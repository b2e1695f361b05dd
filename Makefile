# drover: `make up` runs it, `make test` tests it (see README.md).

GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
COMMIT  := $(shell git rev-parse HEAD 2>/dev/null)
TREE    := $(if $(findstring dirty,$(VERSION)),dirty,clean)
DATE    := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
# The version the binary reports: `drover version` (client) and /version (server).
APISERVER := github.com/drover-ci/drover/cluster/apiserver
LDFLAGS := -X $(APISERVER).versionDrover=$(VERSION) -X $(APISERVER).versionCommit=$(COMMIT) \
	-X $(APISERVER).versionTreeState=$(TREE) -X $(APISERVER).versionBuildDate=$(DATE) \
	-X github.com/drover-ci/drover/cmd/drover/app.Version=$(VERSION)

.PHONY: all build up demo test bench density conformance vet fmt clean

all: build

# bin/drover is rebuilt only when a Go source, go.mod, go.sum, an embedded file or the commit
# changed (make up runs this target every time; an up-to-date binary is left alone).
SOURCES := $(shell find . -path ./bin -prune -o -path ./.git -prune -o -type f \( -name '*.go' -o -name go.mod -o -name go.sum -o -path './charts/*' \) -print 2>/dev/null)
GITHEAD := $(wildcard .git/HEAD .git/index)

build: bin/drover

bin/drover: $(SOURCES) $(GITHEAD)
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o bin/drover ./cmd/drover

up:
	scripts/up.sh

# The offline demo: drover up with drover's stand-in Jenkins and agent images (no registry
# needed), a build queued, an agent pod started for it, the build run, the agent gone; then
# drover stops. Its state goes to ~/.local/share/drover-demo (DROVER_DATA_DIR overrides).
demo:
	DROVER_JENKINS=local DROVER_DEMO=1 DROVER_DATA_DIR=$${DROVER_DATA_DIR:-$$HOME/.local/share/drover-demo} scripts/up.sh

test:
	scripts/test.sh

bench:
	@# The whole run is bounded: a hung benchmark does not honour go test -timeout.
	@if [ -x scripts/bench.sh ]; then timeout 45m scripts/bench.sh; \
	elif [ -f scripts/bench.sh ]; then bash scripts/bench.sh; \
	else echo "make bench: scripts/bench.sh does not exist yet (it comes with the benchmark work)" >&2; exit 1; fi

# The kubemark-style density test (issue 20 item 7): a private drover server, hollow nodes and
# the driver cmd/drover-density, one results row per step (DENSITY_STEPS="100/3000" for one step,
# DENSITY_STORE=consul for the Consul store); see docs/performance.md.
density: build
	scripts/density.sh

# Kubernetes' conformance tests (k8s.io/kubernetes v1.32.0 e2e.test) against a two-node cluster
# of its own (drover up and a simulated host's drover node); prints the table
# docs/conformance.md records. Not part of `make test` (heavy first build).
conformance:
	scripts/conformance.sh

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w .

clean:
	rm -rf bin
