# ensign's developer entry points. Every target builds what it needs first.
GO ?= go
# The slowest test packages come first: `go test` starts test binaries in the
# order it is given them, and a long one that starts last runs on alone.
SLOW_PKGS := ./cmd/ensign ./harness ./cmd/ensign-demo ./rollback ./promote \
  ./gitops ./command ./forge ./canary ./gate
PKGS ?= $(SLOW_PKGS) ./...
# Test binaries run at once. The suite is CPU-bound on 2 cores (1,000 to 1,400
# CPU-seconds, over a third of it Gitea's git hook processes): -p 4 took as long
# as -p 2 and used a quarter more CPU, -p 16 timed tests out.
TESTP ?= 2
# Integration tests need the harness binaries; ENSIGN_E2E=1 makes a missing
# binary a failure instead of a skip.
export ENSIGN_E2E ?= 1
# The story also runs on the real kube-controller-manager, kube-scheduler,
# kwok, Flagger and Flux, which the harness target builds (about 12 minutes on
# 2 cores the first time). ENSIGN_CONTROLLERS= (empty) skips building them;
# their tests then skip and the demo plays Flux and Flagger.
export ENSIGN_CONTROLLERS ?= 1
TESTFLAGS ?=

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
IMAGE ?= localhost/ensign:$(VERSION)
BUILDAH ?= buildah --storage-driver vfs
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt

.PHONY: all harness build image test unit e2e lint fuzz bench bench-bot faults demo clean

all: lint test

## harness: build (or reuse) Gitea, kube-apiserver, etcd and helm from the Go module proxy,
## copy Flux's CRDs, and unless ENSIGN_CONTROLLERS is empty build kube-controller-manager,
## kube-scheduler, kwok, Flagger and Flux (their tests skip without them)
harness:
	harness/build/build.sh
	harness/build/build.sh helm

## build: the ensign binary in bin/
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ensign ./cmd/ensign

## image: the container image IMAGE with buildah, offline (Containerfile, FROM scratch)
image:
	rm -rf bin/image && mkdir -p bin/image/rootfs/tmp bin/image/rootfs/var/lib/ensign bin/image/rootfs/home/ensign
	chmod 1777 bin/image/rootfs/tmp
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/image/ensign ./cmd/ensign
	@test -s $(CA_BUNDLE) || { echo "no CA bundle at $(CA_BUNDLE): apt-get install ca-certificates" >&2; exit 1; }
	cp $(CA_BUNDLE) bin/image/ca-certificates.crt
	$(BUILDAH) bud --isolation chroot --layers=false -f Containerfile -t $(IMAGE) bin/image

## test: go vet, then every test (unit and integration, against real servers)
test: harness lint
	$(GO) test -count=1 -p $(TESTP) $(TESTFLAGS) $(PKGS)

## unit: only tests that need no server (integration tests skip)
unit:
	ENSIGN_E2E= ENSIGN_HARNESS_CACHE=/nonexistent $(GO) test -count=1 $(TESTFLAGS) $(PKGS)

## e2e: the packages whose tests use the real-server harness
e2e: harness
	$(GO) test -count=1 $(TESTFLAGS) $$($(GO) list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' $(PKGS) \
	  | awk '/ensign\/harness( |$$)/ || $$1 ~ /\/harness$$/ {print $$1}')

## lint: go vet and gofmt
lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## fuzz: run each fuzz target briefly (FUZZTIME per target)
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## bench: benchmarks (not part of test)
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

## bench-bot: the bot end to end on real servers (rollback and promotion latency,
## memory of `ensign run` over 1,000 canaries); prints tables, see BENCHMARKS.md
BENCHBOTFLAGS ?= -runs 20 -repeat 3
bench-bot: harness build
	$(GO) run ./cmd/ensign-bench -ensign bin/ensign $(BENCHBOTFLAGS)

## faults: the fault suite: the real ensign run against the real servers, faults injected (FAULTS=-short for short outages,
## about 6 min; the full suite not timed whole, about 27 min by its parts: the four outage cases took 12 min with -reps 2
## (so about 18 with its 3), the other five 9, BENCHMARKS.md)
faults: harness
	$(GO) run ./cmd/ensign-faults $(FAULTS)

## demo: the whole story on real Gitea, API server, Flux and Flagger, narrated (ARGS=--keep to browse afterwards)
demo: harness
	$(GO) run ./cmd/ensign-demo $(ARGS)

clean:
	rm -rf bin
