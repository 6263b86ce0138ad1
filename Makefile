# wgbench — see README.md. The two entry points are `make run` and `make test`.
GO       ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN      := bin/wgbench
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/wgbench/wgbench/internal/version.Version=$(VERSION)
SCENARIO ?= scenarios/multi-tunnel.yaml
RUNFLAGS ?=

.PHONY: all setup build run test test-unit vet bench clean

all: build

setup:
	@GO=$(GO) ./scripts/setup.sh

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/wgbench

# The main job: install what is missing, build, run the multi-tunnel scenario
# on the local testbed (network namespaces; needs root), print the results.
run: setup build
	./$(BIN) run $(SCENARIO) $(RUNFLAGS)

# The whole test suite. Tests that need root skip without it; CI runs as root.
test: setup vet
	$(GO) test -count=1 -timeout 20m ./...

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

# Benchmarks (provisioning, samplers, …), each printing its baseline beside it.
bench: setup
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

clean:
	rm -rf bin
