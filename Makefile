# wgbench — see README.md. The two entry points are `make run` and `make test`.
GO       ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN      := bin/wgbench
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/wgbench/wgbench/internal/version.Version=$(VERSION)
SCENARIO ?= scenarios/multi-tunnel.yaml
RUNFLAGS ?=

.PHONY: all setup build run test test-kernel rehearse rehearse-catalogue vet fuzz bench clean

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
# Last, the rehearsal of every scenario file in the QEMU gateway (a verdict
# per file; see test/kernel/README.md for its timings).
test: setup vet test-kernel
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) fuzz
	$(MAKE) rehearse-catalogue

# Every fuzz target for a bounded number of inputs (FUZZTIME each: a count
# such as 20000x, not a duration, because a duration -fuzztime can fail
# with a bare "context deadline exceeded" from a race in Go's fuzzing
# coordinator, golang/go#75804, fixed in go1.27).
FUZZTIME ?= 20000x
fuzz:
	@GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

# The kernel datapath's tests in a real kernel with WireGuard: Debian's
# current kernel booted under QEMU (TCG), cached in .cache/kernel; about a
# minute once the kernel is cached. See test/kernel/README.md.
test-kernel:
	@GO=$(GO) ./test/kernel/run.sh

# Rehearse a scenario before booking hardware: Debian's kernel under QEMU
# shaped like the papers' gateway (2 NUMA nodes, control NIC on node 0, two
# data ports on node 1 cabled to each other) runs `wgbench run SCENARIO
# RUNFLAGS` with gw1's and gw2's WAN on the data ports, copies the run
# folder to REHEARSAL_OUT and fails when a point failed.
REHEARSAL_OUT ?=
rehearse:
	@GO=$(GO) SCENARIO='$(SCENARIO)' RUNFLAGS="$(RUNFLAGS)" REHEARSAL_OUT='$(REHEARSAL_OUT)' ./test/kernel/run.sh rehearse

# Every file in scenarios/ and scenarios/cloudlab/, scaled down (2
# tunnels, one repetition, 1 s, fewer MTUs and packet sizes;
# CATALOGUE_FLAGS overrides), rehearsed in one boot; a verdict per file.
# Part of `make test`.
CATALOGUE_FLAGS ?=
rehearse-catalogue:
	@GO=$(GO) CATALOGUE_FLAGS="$(CATALOGUE_FLAGS)" REHEARSAL_OUT='$(REHEARSAL_OUT)' ./test/kernel/run.sh catalogue

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

# Benchmarks (provisioning, samplers, …), each printing its baseline beside it.
bench: setup
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

clean:
	rm -rf bin
