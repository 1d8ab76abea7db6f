# Benchmark targets, included by the top-level Makefile (include bench/bench.mk).
#
#   make bench                      end-to-end harness, quick set (~3 min on 2 cores)
#   make bench BENCH_FLAGS='-configs fasthttp,direct -scenarios w2,w1 -duration 10s'
#   make bench-full                 longer windows, more requests, nethttp-h2c too
#   make bench-micro                go test -bench over every package into a file
#   make bench-compare OLD=a.txt NEW=b.txt   benchstat between two bench-micro files
#
# Results (report.md, report.json, chart.svg, pprof of missed targets) go to
# bench/results/. See bench/README.md for how to read them.

GO ?= go
BENCH_FLAGS ?=
BENCH_COUNT ?= 6
BENCH_TIME ?= 200ms
BENCH_PKGS ?= ./...
BENCH_RUN ?= .
BENCH_OUT ?= bench/results/micro-$(shell git rev-parse --short HEAD 2>/dev/null || echo dev)-$(shell date +%Y%m%d-%H%M%S).txt
BENCHSTAT ?= $(GO) run golang.org/x/perf/cmd/benchstat@latest

.PHONY: bench bench-full bench-micro bench-compare

## bench: end-to-end comparison of the engines (naive, nethttp h1/h2, fasthttp, direct).
bench:
	$(GO) run ./bench/cmd/ccbench $(BENCH_FLAGS)

## bench-full: the same, longer and larger.
bench-full:
	$(GO) run ./bench/cmd/ccbench -full $(BENCH_FLAGS)

## bench-micro: every package's Go benchmarks, written to $(BENCH_OUT).
bench-micro:
	@mkdir -p $(dir $(BENCH_OUT))
	bash -o pipefail -c "$(GO) test -run '^\$$' -bench '$(BENCH_RUN)' -benchmem -count=$(BENCH_COUNT) -benchtime=$(BENCH_TIME) $(BENCH_PKGS) | tee $(BENCH_OUT)"
	@echo "wrote $(BENCH_OUT)"

## bench-compare: benchstat OLD NEW (two bench-micro files).
bench-compare:
	@test -n "$(OLD)" -a -n "$(NEW)" || { echo "usage: make bench-compare OLD=old.txt NEW=new.txt"; exit 2; }
	$(BENCHSTAT) $(OLD) $(NEW)
