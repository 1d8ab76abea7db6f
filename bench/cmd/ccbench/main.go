// Command ccbench is ccproxy's end-to-end benchmark harness (`make bench`).
//
// It builds the project's fake OpenAI upstream (bench/cmd/fakeupstream) and
// runs it as a child process per protocol, as a real upstream is never in
// its client's process, builds and runs
// ccproxy as a separate process once per configuration (naive net/http,
// the tuned engines, HTTP/2), drives it over real loopback sockets with a
// cheap load client, optionally through a delay relay that emulates a
// network round-trip time, and compares every configuration with the load
// client talking straight to the upstream ("direct"; "direct-inproc" is the
// same with an upstream inside ccbench, the baseline of earlier runs, kept
// as a reference) and through a bare Go
// reverse proxy that translates nothing ("hop", bench/cmd/hop). It measures
// latency, throughput, streaming time to first token, proxy overhead, and
// the ccproxy process's own CPU per request and peak RSS, checks the
// project's performance targets, and writes report.md, report.json and
// chart.svg.
//
// The scenarios that feed the targets (latency, w2, w1) are measured in
// interleaved rounds (-rounds): every configuration's process is up at
// once and each round gives each configuration a slice of each scenario,
// so that all of them, direct included, see the same machine state.
//
// Everything runs on 127.0.0.1, every loop is bounded in count and time.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	full       bool
	configs    string
	scenarios  string
	duration   time.Duration
	warmup     time.Duration
	rounds     int
	seq        int
	c2, c1     int
	rate       float64
	openDur    time.Duration
	rtt        time.Duration
	streams    int
	out        string
	bin        string
	tags       string
	fixture    string
	logLevel   string
	pprof      bool
	pprofSecs  int
	chunks     int
	ttftDelay  time.Duration
	chunkEvery time.Duration
	proxyEnv   string
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("ccbench", flag.ContinueOnError)
	fs.BoolVar(&o.full, "full", false, "bench-full: longer windows, more requests, all configurations including nethttp-h2c")
	fs.StringVar(&o.configs, "configs", "", "comma-separated configurations (default naive,nethttp-h1,nethttp-h2,fasthttp,hop,direct,direct-inproc; -full adds nethttp-h2c and fasthttp-tls); unknown names run as ENGINE=<name>")
	fs.StringVar(&o.scenarios, "scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios: "+strings.Join(allScenarios, ","))
	fs.DurationVar(&o.duration, "duration", 0, "measured time of each throughput scenario per configuration, split over the rounds (default 4s, -full 15s)")
	fs.DurationVar(&o.warmup, "warmup", 300*time.Millisecond, "unmeasured warm-up before each round's throughput window")
	fs.IntVar(&o.rounds, "rounds", 0, "interleaved rounds over all configurations for the latency, w2 and w1 scenarios; each round runs -seq/rounds requests and -duration/rounds windows (default 3, -full 5)")
	fs.IntVar(&o.seq, "seq", 0, "sequential requests of each workload per configuration in the single-connection latency scenario, split over the rounds (default 300, -full 2000)")
	fs.IntVar(&o.c2, "c2", 16, "connections for the W2 throughput run (Claude Code turn)")
	fs.IntVar(&o.c1, "c1", 64, "connections for the W1 throughput run (small OpenAI chat)")
	fs.Float64Var(&o.rate, "rate", 400, "arrival rate (req/s) of the open-loop W2 run")
	fs.DurationVar(&o.openDur, "open-duration", 0, "length of the open-loop run (default 3s, -full 10s)")
	fs.DurationVar(&o.rtt, "rtt", 40*time.Millisecond, "emulated round-trip time between ccproxy and the upstream in the rtt scenario")
	fs.IntVar(&o.streams, "streams", 1000, "open streams held at once in the memory scenario")
	fs.StringVar(&o.out, "out", "bench/results", "output directory (relative to the module root)")
	fs.StringVar(&o.bin, "ccproxy", "", "prebuilt ccproxy binary (default: go build ./cmd/ccproxy)")
	fs.StringVar(&o.tags, "tags", "", "build tags for go build ./cmd/ccproxy")
	fs.StringVar(&o.fixture, "fixture", "testdata/cc-2.1.332-print-first-turn.json", "Claude Code request body for W2 (relative to the module root)")
	fs.StringVar(&o.logLevel, "log-level", "warn", "ccproxy LOG_LEVEL during the runs")
	fs.BoolVar(&o.pprof, "pprof", true, "collect a CPU profile (PPROF_ADDR) of every throughput, CPU or latency run that misses a target, and a heap profile when the memory target is missed")
	fs.IntVar(&o.pprofSecs, "pprof-seconds", 3, "length of each CPU profile")
	fs.IntVar(&o.chunks, "chunks", 20, "chunks per upstream stream")
	fs.DurationVar(&o.ttftDelay, "ttft-delay", 10*time.Millisecond, "upstream time to first token in the stream scenario")
	fs.DurationVar(&o.chunkEvery, "chunk-interval", 3*time.Millisecond, "upstream gap between chunks in the stream scenario")
	fs.StringVar(&o.proxyEnv, "proxy-env", "", "comma-separated KEY=VALUE pairs added to every ccproxy configuration's environment, not the hop's (e.g. GOGC=200,GOMAXPROCS=1)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	def := func(d *time.Duration, quick, full time.Duration) {
		if *d <= 0 {
			*d = quick
			if o.full {
				*d = full
			}
		}
	}
	def(&o.duration, 4*time.Second, 15*time.Second)
	def(&o.openDur, 3*time.Second, 10*time.Second)
	if o.seq <= 0 {
		o.seq = 300
		if o.full {
			o.seq = 2000
		}
	}
	if o.rounds <= 0 {
		o.rounds = 3
		if o.full {
			o.rounds = 5
		}
	}
	if o.configs == "" {
		o.configs = "naive,nethttp-h1,nethttp-h2,fasthttp,hop,direct,direct-inproc"
		if o.full {
			o.configs = "naive,nethttp-h1,nethttp-h2,nethttp-h2c,fasthttp,fasthttp-tls,hop,direct,direct-inproc"
		}
	}
	for s := range strings.SplitSeq(o.scenarios, ",") {
		if s = strings.TrimSpace(s); s != "" && !isScenario(s) {
			return o, fmt.Errorf("unknown scenario %q (known: %s)", s, strings.Join(allScenarios, ","))
		}
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ccbench:", err)
		os.Exit(1)
	}
}
