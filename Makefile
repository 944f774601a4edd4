# harmony-agent: make help lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO       ?= go
# Expanded once (:=), so every target of one make run stamps the same
# values even if a commit lands meanwhile; each can be set on the command
# line (make deb VERSION=0.3.0).
VERSION  := $(or $(VERSION),$(shell git describe --tags --always --dirty 2>/dev/null || echo dev))
COMMIT   := $(or $(COMMIT),$(shell git rev-parse --short HEAD 2>/dev/null || echo unknown))
DATE     := $(or $(DATE),$(shell date -u +%Y-%m-%dT%H:%M:%SZ))
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
# Tests and the dev build compile the embedded nats-server in; releases do not.
DEVTAGS  := embednats
FUZZTIME ?= 10s
PODMAN_DIR ?= /tmp/harmony-podman
# WITH_PODMAN prefixes a command that needs podman: it installs podman when
# missing, starts a private podman service (scripts/podman), exports its
# socket and test image, and tears the service down afterwards.
WITH_PODMAN = eval "$$(scripts/podman/env.sh $(PODMAN_DIR))" && \
  trap 'scripts/podman/teardown.sh $(PODMAN_DIR) >/dev/null 2>&1 || true' EXIT &&

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

.PHONY: build
build: ## build both binaries into bin/ (no embedded NATS server)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...

.PHONY: build-dev
build-dev: ## build both binaries with the embedded NATS server (for --dev)
	CGO_ENABLED=0 $(GO) build -trimpath -tags $(DEVTAGS) -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...

.PHONY: run
# make run signs too: a dev signing key is made once under the dev state
# directory, and the dev agent trusts only it (trust.keys), so the README's
# walkthrough signs its values (HARMONY_FLEET_SIGNING_KEY_FILE) and shows
# an unsigned one refused.
DEV_STATE := $(CURDIR)/.dev-state
DEV_KEY   := $(DEV_STATE)/dev-signing.nk

# scripts/dev/run.sh also starts harmony-fleet serve, signing with the same
# key, and enrols the dev device.
run: build-dev ## the agent on its embedded default (NATS in-process, process runtime, trusting the dev signing key), harmony-fleet serve signing with it
	mkdir -p $(DEV_STATE)
	@[ -f $(DEV_KEY) ] || ./bin/harmony-fleet keys new -o $(DEV_KEY) >/dev/null
	HARMONY_AGENT_TRUST_KEYS="$$(./bin/harmony-fleet keys public $(DEV_KEY))" HARMONY_FLEET_SIGNING_KEY_FILE=$(DEV_KEY) \
	  scripts/dev/run.sh $(DEV_STATE)

# staticcheck is pinned; make lint installs it into $(GOBIN) when missing
# (or of another version) from the Go module proxy.
STATICCHECK_VERSION ?= v0.8.2
GOBIN       ?= $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck

.PHONY: lint
lint: ## go vet and staticcheck (both build tag sets) and a gofmt check
	$(GO) vet ./...
	$(GO) vet -tags $(DEVTAGS) ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(STATICCHECK) -version 2>/dev/null | grep -q '$(STATICCHECK_VERSION:v%=%)' || \
	  { echo "installing staticcheck $(STATICCHECK_VERSION)"; GOBIN='$(GOBIN)' $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); }
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags $(DEVTAGS) ./...

.PHONY: test-integration
test-integration: ## only the tests against real NATS and podman: agent, runtimes, publisher, CLI, e2e
	@$(WITH_PODMAN) $(GO) test -race -tags $(DEVTAGS) -count=1 ./cmd/... ./internal/runtime/... ./internal/publisher/ ./test/...

.PHONY: test
test: lint ## everything CI runs: lint, every test with -race (podman set up), then the packaging checks
	@scripts/browser/env.sh >/dev/null # installs chromium when missing, for the dashboard tests (internal/api, cmd/harmony-fleet)
	@$(WITH_PODMAN) $(GO) test -race -tags $(DEVTAGS) -count=1 ./...
	$(MAKE) test-packaging

.PHONY: test-e2e
test-e2e: ## end-to-end: nats-server, agents and harmony-fleet as real processes (podman part included)
	@$(WITH_PODMAN) $(GO) test -race -tags $(DEVTAGS) -count=1 ./test/e2e/

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 10s)
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; done

include $(wildcard mk/*.mk)
