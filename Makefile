# ccproxy — make run | make test | make bench (see README.md)
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
GO ?= go
# Every build-tag combination that must compile and vet.
TAGSETS := none fasthttp nofasthttp fasthttp,nofasthttp
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all claude-cli soak run build build-all test test-short vet tags lint fmt fuzz soak e2e-claude tools deps

all: build

## deps: download the Go modules (the Go toolchain itself must be installed).
deps:
	@command -v $(GO) >/dev/null || { echo "Go is required: https://go.dev/dl (>= 1.26)"; exit 1; }
	$(GO) mod download

## run: start ccproxy (demo upstream when OPENAI_API_KEY is unset).
run: deps
	CGO_ENABLED=0 $(GO) run ./cmd/ccproxy

## build: bin/ccproxy (default engine nethttp), plus the tag variants. The
## binaries are static (no cgo: libc alone is 2 MB of resident memory, and
## the pure Go DNS resolver is what containers want).
build: deps
	CGO_ENABLED=0 $(GO) build -o bin/ccproxy ./cmd/ccproxy

build-all: build
	CGO_ENABLED=0 $(GO) build -tags fasthttp -o bin/ccproxy-fasthttp ./cmd/ccproxy
	CGO_ENABLED=0 $(GO) build -tags nofasthttp -o bin/ccproxy-nethttp-only ./cmd/ccproxy

## tags: every tag combination builds and vets (build tags live only in
## cmd/ccproxy, so the rest of the tree is vetted once by `vet`).
tags:
	@set -e; for t in $(TAGSETS); do \
	  tt=$$t; [ "$$t" = none ] && tt=""; \
	  echo "build+vet tags=[$$tt]"; \
	  $(GO) build -tags "$$tt" -o /dev/null ./cmd/ccproxy ; $(GO) vet -tags "$$tt" ./cmd/... ; \
	done

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

CLAUDE_CODE_VERSION ?= 2.1.332
CLAUDE_BIN := .cache/claude-code/node_modules/.bin/claude

## claude-cli: the real Claude Code CLI (npm) for the end-to-end test.
claude-cli: $(CLAUDE_BIN)
$(CLAUDE_BIN):
	@command -v npm >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  { echo "installing npm (apt-get)"; apt-get update -qq && apt-get install -y -qq npm >/dev/null; }; } || \
	  { echo "npm is required for the Claude Code end-to-end test (apt-get install npm)"; exit 1; }
	npm install --silent --no-audit --no-fund --prefix .cache/claude-code @anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION)

## test: gofmt, vet, race tests of every package (the Claude Code CLI
## included); every tag combination builds and vets. (`make lint` adds
## staticcheck: on a cold build cache it costs minutes, so CI leaves it out.)
test: deps vet tags claude-cli
	$(GO) test -race -count=1 -timeout 8m ./...
	$(GO) test -count=1 -tags purego ./internal/jsonscan/ ./proxy/toopenai/ ./proxy/toanthropic/ # the portable string scanner instead of the amd64 assembly
	$(GO) test -count=1 -run 'Stack' ./proxy/ # stack-size checks: not under -race, which grows every frame

test-short:
	$(GO) test -count=1 ./...

lint: vet
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	staticcheck ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

## soak: 5 minutes of mixed streaming load with injected faults against a
## ccproxy process; fails if goroutines or RSS grow (not part of make test).
soak:
	$(GO) run ./bench/cmd/soak -duration 5m

## fuzz: a short run of every fuzz target.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s $$pkg; \
	  done; done

-include bench/bench.mk
