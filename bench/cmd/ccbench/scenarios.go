package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/bench/load"
	"github.com/ccproxy/ccproxy/bench/netem"
	"github.com/ccproxy/ccproxy/bench/report"
)

// allScenarios in run order.
var allScenarios = []string{"latency", "burst", "stream", "w2", "w1", "open", "rtt", "memory"}

// interleavedScenarios are measured in rounds across all configurations
// (see rounds.go); the others run per configuration.
var interleavedScenarios = []string{"latency", "w2", "w1"}

func isScenario(s string) bool { return slices.Contains(allScenarios, s) }

// Targets of the issue (2-core machine, fake upstream).
const (
	targetW2Ratio    = 0.5
	targetW2CPU      = 300 // µs per request
	targetW1Ratio    = 0.35
	targetW1CPU      = 80
	targetAddedP50   = 300 // µs at one connection
	targetStreamsRSS = 64  // MB with 1,000 open streams
)

func ms(d time.Duration) float64  { return float64(d) / float64(time.Millisecond) }
func usf(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func percentiles(s load.Summary) report.Percentiles {
	return report.Percentiles{P50: usf(s.P50), P90: usf(s.P90), P99: usf(s.P99), P999: usf(s.P999), Max: usf(s.Max)}
}

// runOrder puts the direct configurations (direct, direct-inproc) first:
// the through-proxy runs compare with direct as soon as they are measured
// (to decide whether to profile).
func runOrder(cfgs []benchConfig) []benchConfig {
	out := slices.Clone(cfgs)
	slices.SortStableFunc(out, func(a, b benchConfig) int {
		switch {
		case a.Direct && !b.Direct:
			return -1
		case b.Direct && !a.Direct:
			return 1
		}
		return 0
	})
	return out
}

// startConfig starts the configuration c (its ccproxy or hop child process,
// unless it is direct) and its load client, and sends one request of each
// workload: a failing configuration stops here. The caller closes the
// result.
func (h *harness) startConfig(ctx context.Context, c benchConfig) (*configResult, error) {
	up := h.ups.forConfig(c)
	if up == nil {
		return nil, fmt.Errorf("no %s upstream", c.Upstream)
	}
	r := &configResult{cfg: c, up: up}
	if c.Direct {
		r.work = directWorkloads(up.URL(), h.translated)
	} else {
		p, w, err := h.startChild(ctx, c, up.URL(), c.Name+".log", h.o.pprof)
		if err != nil {
			return nil, err
		}
		r.proc = p
		r.work = w
	}
	cl, err := load.NewClient(r.work.W2.URL, max(h.o.c1, h.o.c2, 10))
	if err != nil {
		r.close()
		return nil, err
	}
	r.cl = cl
	buf := make([]byte, 32<<10)
	for _, w := range []*load.Request{r.work.W2, r.work.W1} {
		if _, err := cl.Do(w, time.Now(), buf, nil, nil); err != nil {
			err = fmt.Errorf("first request: %w%s", err, h.logHint(r))
			r.close()
			return nil, err
		}
	}
	return r, nil
}

// close stops the configuration's child process and closes its load
// client; it may be called more than once.
func (r *configResult) close() {
	if r.cl != nil {
		r.cl.Close()
		r.cl = nil
	}
	if r.proc != nil && !r.stopped {
		r.proc.Stop()
		r.stopped = true
	}
}

// counted runs fn and adds the upstream connections accepted meanwhile to
// the configuration's count. Only one configuration sends load at a time,
// so the shared upstream's accepts during fn are this configuration's (the
// control connection through which a child upstream's stats are read is
// not counted). A failure to read the stats is kept in upErr.
func (r *configResult) counted(fn func()) {
	s0, err0 := r.up.Stats()
	fn()
	s1, err1 := r.up.Stats()
	if err := errors.Join(err0, err1); err != nil {
		if r.upErr == nil {
			r.upErr = err
		}
		return
	}
	r.connsOpened += s1.ConnsAccepted - s0.ConnsAccepted
}

// runSolo measures, for one configuration on its own, the scenarios that
// are not interleaved (burst, stream, open, rtt, memory) and the rows read
// from its process after all its load: peak RSS and the upstream
// connections it opened.
func (h *harness) runSolo(ctx context.Context, r *configResult) {
	c, cl := r.cfg, r.cl
	if h.scen["burst"] {
		rounds := 20
		if h.o.full {
			rounds = 100
		}
		r.counted(func() {
			load.Burst(ctx, cl, r.work.W2, 10, 1) // open the connections
			wall, res := load.Burst(ctx, cl, r.work.W2, 10, rounds)
			h.noteErrors(c.Name, "burst", res)
			h.rep.Set("10 concurrent W2 requests, wall time (median)", "ms", true, 2, c.Name, ms(wall))
			h.prog.Printf("  %-12s burst      10 concurrent W2: %.2f ms\n", c.Name, ms(wall))
		})
	}
	if h.scen["stream"] {
		r.counted(func() { h.streamScenario(ctx, c, r, cl) })
	}
	if r.proc != nil {
		_, peak, err := r.proc.Memory()
		if err == nil {
			h.rep.Set("ccproxy peak RSS (before the open-streams run)", "MB", true, 1, c.Name, float64(peak)/(1<<20))
		}
	}
	if r.upErr != nil {
		h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("%s: upstream connections not counted: %v", c.Name, firstLine(r.upErr.Error())))
	} else {
		h.rep.Set("upstream connections opened (all runs above)", "", true, 0, c.Name, float64(r.connsOpened))
	}
	if h.scen["open"] {
		res := h.track(c.Name, fmt.Sprintf("W2 open loop %.0f/s", h.o.rate), func(p *load.Progress) load.Result {
			return load.RunOpen(ctx, cl, r.work.W2, load.Open{Rate: h.o.rate, Duration: h.o.openDur, MaxInFlight: 512, Progress: p})
		})
		h.noteErrors(c.Name, "open loop", res)
		h.rep.Set(fmt.Sprintf("W2 open loop %.0f req/s: latency p50", h.o.rate), "ms", true, 3, c.Name, ms(res.Latency.P50))
		h.rep.Set(fmt.Sprintf("W2 open loop %.0f req/s: latency p99", h.o.rate), "ms", true, 3, c.Name, ms(res.Latency.P99))
	}
	if h.scen["rtt"] && h.o.rtt > 0 {
		if err := h.rttScenario(ctx, c, r); err != nil {
			h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("%s: rtt scenario: %v", c.Name, firstLine(err.Error())))
		}
	}
	if h.scen["memory"] && r.proc != nil {
		if err := h.memoryScenario(ctx, c, r); err != nil {
			h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("%s: memory scenario: %v", c.Name, firstLine(err.Error())))
		}
	}
}

func (r *configResult) cpu() time.Duration {
	if r.proc == nil {
		return 0
	}
	d, _ := r.proc.CPU()
	return d
}

// hop returns the result of the hop configuration, nil when it did not run.
func (h *harness) hop() *configResult {
	for _, r := range h.res {
		if r.cfg.Hop {
			return r
		}
	}
	return nil
}

// direct returns the result of direct (the load client straight at the
// upstream's child process: the targets' reference), nil when it did not
// run.
func (h *harness) direct() *configResult {
	for _, r := range h.res {
		if r.cfg.Direct && !r.cfg.InProc {
			return r
		}
	}
	return nil
}

// directInProc returns the result of direct-inproc (the upstream inside
// ccbench), nil when it did not run.
func (h *harness) directInProc() *configResult {
	for _, r := range h.res {
		if r.cfg.InProc {
			return r
		}
	}
	return nil
}

func (h *harness) logHint(r *configResult) string {
	if r.proc == nil {
		return ""
	}
	return " (ccproxy log: " + r.proc.logTail() + ")"
}

func (h *harness) noteErrors(config, what string, res load.Result) {
	if res.Errors > 0 {
		h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("%s: %s: %d of %d requests failed, first: %s",
			config, what, res.Errors, res.Errors+res.Requests, firstLine(res.FirstError)))
	}
}

// track runs fn while the progress line shows its live counters, then
// prints a summary line.
func (h *harness) track(config, label string, fn func(*load.Progress) load.Result) load.Result {
	p := &load.Progress{}
	stop := h.prog.Live(func(elapsed time.Duration) string {
		d := p.Done.Load()
		return fmt.Sprintf("  %-12s %-22s %7d req %5d err %9.0f req/s  %5.1fs", config, label, d, p.Errors.Load(),
			float64(d)/max(elapsed.Seconds(), 1e-9), elapsed.Seconds())
	})
	res := fn(p)
	stop()
	h.prog.Printf("  %-12s %-22s %7d req %5d err %9.0f req/s  p50 %8.3f ms  p99 %8.3f ms\n", config, label,
		res.Requests, res.Errors, res.RPS(), ms(res.Latency.P50), ms(res.Latency.P99))
	return res
}

// profile reruns a throughput load while fetching a CPU profile of ccproxy.
func (h *harness) profile(ctx context.Context, c benchConfig, r *configResult, cl *load.Client, name string, req *load.Request, conc int) {
	rel := filepath.Join(h.o.out, fmt.Sprintf("%s-%s.pprof", c.Name, strings.ToLower(name)))
	path := rel
	if !filepath.IsAbs(path) {
		path = filepath.Join(h.root, rel)
	}
	errc := make(chan error, 1)
	go func() { errc <- r.proc.Profile(ctx, h.o.pprofSecs, path) }()
	load.RunClosed(ctx, cl, req, load.Closed{Concurrency: conc, Duration: time.Duration(h.o.pprofSecs)*time.Second + 500*time.Millisecond})
	if err := <-errc; err != nil {
		h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("%s: %s profile: %v", c.Name, name, err))
		return
	}
	h.rep.Profiles = append(h.rep.Profiles, rel)
	h.prog.Printf("  %-12s missed a %s target: CPU profile in %s\n", c.Name, name, rel)
	if shares, err := cpuShares(path); err == nil {
		h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("Where %s's CPU went on %s (`%s`, each sample counted for the first of its frames, from the leaf up, "+
			"in the kernel, the Go runtime, net/http, fasthttp or ccproxy; library code counts for its caller): %s.", c.Name, name, rel, cpuSharesNote(shares)))
	}
}

// heapProfile saves ccproxy's heap profile while the memory scenario's
// streams are open (the target was missed at that sample). The profile is
// as of the last garbage collection, which the fetch does not force.
func (h *harness) heapProfile(ctx context.Context, c benchConfig, r *configResult) {
	rel := filepath.Join(h.o.out, c.Name+"-memory.heap.pprof")
	path := rel
	if !filepath.IsAbs(path) {
		path = filepath.Join(h.root, rel)
	}
	if err := r.proc.HeapProfile(ctx, path); err != nil {
		h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("%s: heap profile: %v", c.Name, err))
		return
	}
	h.rep.Profiles = append(h.rep.Profiles, rel)
}

// streamScenario measures time to first token and the gaps between events
// with an upstream that takes ttft-delay to its first chunk and
// chunk-interval between chunks.
func (h *harness) streamScenario(ctx context.Context, c benchConfig, r *configResult, cl *load.Client) {
	defer h.resetPacing(c.Name, "stream")
	if err := h.ups.SetOptions(func(o *fakeupstream.Options) {
		o.FirstChunkDelay, o.ChunkInterval = h.o.ttftDelay, h.o.chunkEvery
	}); err != nil {
		h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("%s: stream scenario not measured: pacing the upstream: %v", c.Name, firstLine(err.Error())))
		return
	}
	n := int64(15)
	if h.o.full {
		n = 100
	}
	res := h.track(c.Name, "W2 paced stream", func(p *load.Progress) load.Result {
		return load.RunClosed(ctx, cl, r.work.W2, load.Closed{Concurrency: 1, Requests: n, Gaps: true, Progress: p})
	})
	h.noteErrors(c.Name, "stream", res)
	h.rep.Set(fmt.Sprintf("stream: time to first token p50 (upstream %v)", h.o.ttftDelay), "ms", true, 3, c.Name, ms(res.FirstToken.P50))
	h.rep.Set(fmt.Sprintf("stream: gap between events p50 (upstream %v)", h.o.chunkEvery), "ms", true, 3, c.Name, ms(res.Gap.P50))
	h.rep.Set(fmt.Sprintf("stream: gap between events p99 (upstream %v)", h.o.chunkEvery), "ms", true, 3, c.Name, ms(res.Gap.P99))
}

// resetPacing takes the stream and memory scenarios' delays off every
// upstream; a failure is noted (later figures would be paced).
func (h *harness) resetPacing(config, scen string) {
	if err := h.ups.SetOptions(func(o *fakeupstream.Options) { o.FirstChunkDelay, o.ChunkInterval = 0, 0 }); err != nil {
		h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("%s: after the %s scenario the upstream's pacing was not reset: %v", config, scen, firstLine(err.Error())))
	}
}

// rttScenario puts a delay relay between ccproxy (or, for direct, the load
// client) and the upstream and measures one connection's latency and a
// burst of 10, where connection reuse and HTTP/2 multiplexing pay off.
func (h *harness) rttScenario(ctx context.Context, c benchConfig, r *configResult) error {
	relay, err := netem.Start(netem.Options{Target: r.up.Addr(), RTT: h.o.rtt})
	if err != nil {
		return err
	}
	defer relay.Close()
	scheme := "http"
	if c.Upstream == fakeupstream.TLS {
		scheme = "https"
	}
	relayBase := scheme + "://" + relay.Addr
	var w workloads
	if c.Direct {
		w = directWorkloads(relayBase, h.translated)
	} else {
		p, pw, err := h.startChild(ctx, c, relayBase, c.Name+"-rtt.log", false)
		if err != nil {
			return err
		}
		defer p.Stop()
		w = pw
	}
	cl, err := load.NewClient(w.W2.URL, 10)
	if err != nil {
		return err
	}
	defer cl.Close()
	load.Burst(ctx, cl, w.W2, 10, 1) // warm the pools as a running proxy would be
	label := fmt.Sprintf("RTT %v", h.o.rtt)
	seq := h.track(c.Name, "W2 1 conn "+label, func(p *load.Progress) load.Result {
		return load.RunClosed(ctx, cl, w.W2, load.Closed{Concurrency: 1, Requests: 10, Progress: p})
	})
	h.noteErrors(c.Name, "rtt sequential", seq)
	wall, res := load.Burst(ctx, cl, w.W2, 10, 5)
	h.noteErrors(c.Name, "rtt burst", res)
	h.rep.Set("W2 latency p50, 1 connection, "+label, "ms", true, 1, c.Name, ms(seq.Latency.P50))
	h.rep.Set("10 concurrent W2 requests, wall time, "+label, "ms", true, 1, c.Name, ms(wall))
	h.rep.Set("upstream connections opened, "+label, "", true, 0, c.Name, float64(relay.Stats().Conns))
	h.prog.Printf("  %-12s %-22s burst of 10: %.1f ms, %d upstream connections\n", c.Name, label, ms(wall), relay.Stats().Conns)
	return nil
}

// memoryScenario holds o.streams W2 streams open at once (the upstream
// paces its events so that each stream lasts ~streamLife, long enough for
// the ramp-up on a busy machine to overlap) and samples ccproxy's RSS while
// at least 90% of them are open: the first such sample ("early"), the last
// ("late") and the highest ("peak"). The target is checked on the last
// sample taken with all of them open ("settled"): the peak comes while the
// last requests arrive and includes their bodies and translations in
// flight, which MAX_BUFFERED_BYTES bounds (16 MiB by default), not the
// memory the open streams hold.
func (h *harness) memoryScenario(ctx context.Context, c benchConfig, r *configResult) error {
	const streamLife = 8 * time.Second
	every := streamLife / time.Duration(max(h.w2Events, 1))
	defer h.resetPacing(c.Name, "memory")
	if err := h.ups.SetOptions(func(o *fakeupstream.Options) { o.ChunkInterval = every }); err != nil {
		return fmt.Errorf("pacing the upstream: %w", err)
	}
	idle, _, err := r.proc.Memory()
	if err != nil {
		return err
	}
	n := h.o.streams
	cl, err := load.NewClient(r.work.W2.URL, n)
	if err != nil {
		return err
	}
	defer cl.Close()
	p := &load.Progress{}
	done := make(chan load.Result, 1)
	go func() {
		done <- load.RunClosed(ctx, cl, r.work.W2, load.Closed{Concurrency: n, Requests: int64(n), Progress: p})
	}()
	var early, late, peak, settled, maxOpen int64
	var allOpen time.Time
	profiled := false
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	stop := h.prog.Live(func(elapsed time.Duration) string {
		return fmt.Sprintf("  %-12s %d streams: %d open, %d done  %5.1fs", c.Name, n, p.Open.Load(), p.Done.Load(), elapsed.Seconds())
	})
	var res load.Result
loop:
	for {
		select {
		case res = <-done:
			break loop
		case <-tick.C:
			open := p.Open.Load()
			rss, _, err := r.proc.Memory()
			if err != nil {
				continue
			}
			maxOpen = max(maxOpen, open)
			if open >= int64(n)*9/10 {
				peak = max(peak, rss)
				if early == 0 {
					early = rss
				}
				late = rss
			}
			if open == int64(n) {
				settled = rss
				if allOpen.IsZero() {
					allOpen = time.Now()
				}
				// A second after the last arrival, what is in memory is
				// what the open streams hold.
				if !profiled && time.Since(allOpen) > time.Second && h.o.pprof && c.Targeted &&
					float64(rss)/(1<<20) > targetStreamsRSS && n == 1000 {
					profiled = true
					h.heapProfile(ctx, c, r)
				}
			}
		}
	}
	stop()
	h.noteErrors(c.Name, "open streams", res)
	if early == 0 {
		return fmt.Errorf("at most %d of %d streams were open at once (%d done, %d failed)", maxOpen, n, res.Requests, res.Errors)
	}
	mb := func(b int64) float64 { return float64(b) / (1 << 20) }
	h.rep.Set(fmt.Sprintf("ccproxy RSS with %d open streams (peak sample, arrival included)", n), "MB", true, 1, c.Name, mb(peak))
	if settled == 0 {
		settled = late
		h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("%s: the %d streams were never all open at once (at most %d): the settled RSS is the last sample with 90%% open", c.Name, n, maxOpen))
	}
	h.rep.Set(fmt.Sprintf("ccproxy RSS with %d open streams, settled (last sample with all open)", n), "MB", true, 1, c.Name, mb(settled))
	h.rep.Set("memory per open stream ((settled - idle RSS) / streams)", "KB", true, 1, c.Name, float64(settled-idle)/1024/float64(n))
	h.rep.Set(fmt.Sprintf("RSS change between first and last sample with ≥ 90%% of the streams open (events %v apart)", every.Round(time.Millisecond)),
		"MB", true, 1, c.Name, mb(late-early))
	r.openStreamsRSS = mb(settled)
	h.prog.Printf("  %-12s %d open streams (max %d at once): idle %.1f MB, early %.1f MB, late %.1f MB, peak %.1f MB, settled %.1f MB\n",
		c.Name, n, maxOpen, mb(idle), mb(early), mb(late), mb(peak), mb(settled))
	return nil
}

// derive adds the rows computed from several configurations (overhead
// and ratios vs direct and vs direct-inproc, CPU over the bare hop) and the
// target checks (against direct only).
func (h *harness) derive() {
	h.deriveOverHop()
	h.deriveVsDirect()
	d := h.direct()
	for _, rc := range h.rep.Configs {
		r := h.res[rc.Name]
		if r == nil || r.cfg.Direct || d == nil || !r.cfg.Targeted {
			continue
		}
		add := func(name string, v, lim float64, atLeast bool, unit string, ok bool) {
			if ok {
				h.rep.Targets = append(h.rep.Targets, report.Target{Name: name, Config: rc.Name, Value: v, Limit: lim, AtLeast: atLeast, Unit: unit}.Check())
			}
		}
		add(fmt.Sprintf("W2 req/s vs direct, %d conns", h.o.c2), r.w2RPS/d.w2RPS, targetW2Ratio, true, "x", r.w2RPS > 0 && d.w2RPS > 0)
		add("W2 ccproxy CPU per request", r.w2CPU, targetW2CPU, false, "µs", r.w2CPU > 0)
		add(fmt.Sprintf("W1 req/s vs direct, %d conns", h.o.c1), r.w1RPS/d.w1RPS, targetW1Ratio, true, "x", r.w1RPS > 0 && d.w1RPS > 0)
		add("W1 ccproxy CPU per request", r.w1CPU, targetW1CPU, false, "µs", r.w1CPU > 0)
		add("W2 added p50 latency, 1 conn", usf(r.w2Seq.P50-d.w2Seq.P50), targetAddedP50, false, "µs", r.w2Seq.N > 0 && d.w2Seq.N > 0)
		add("W1 added p50 latency, 1 conn", usf(r.w1Seq.P50-d.w1Seq.P50), targetAddedP50, false, "µs", r.w1Seq.N > 0 && d.w1Seq.N > 0)
		add(fmt.Sprintf("RSS with %d open streams, settled", h.o.streams), r.openStreamsRSS, targetStreamsRSS, false, "MB", r.openStreamsRSS > 0)
	}
}

// Labels of the rows against direct-inproc.
const (
	w2AddedP50InProcRow = "W2 added latency p50 vs in-process direct, 1 connection"
	w1AddedP50InProcRow = "W1 added latency p50 vs in-process direct, 1 connection"
	w2RatioInProcRow    = "W2 throughput / in-process direct"
	w1RatioInProcRow    = "W1 throughput / in-process direct"
)

// vsRow is a row computed from a configuration and a reference.
type vsRow struct {
	name, unit string
	lower      bool
	decimals   int
	inProc     bool // against direct-inproc, else against direct
	value      func(r, ref *configResult) (float64, bool)
}

// added returns a row value: a percentile (pick) of r's one-connection
// latency minus ref's, on W2 or W1.
func added(w2 bool, pick func(load.Summary) time.Duration) func(r, ref *configResult) (float64, bool) {
	return func(r, ref *configResult) (float64, bool) {
		a, b := r.w1Seq, ref.w1Seq
		if w2 {
			a, b = r.w2Seq, ref.w2Seq
		}
		return usf(pick(a) - pick(b)), a.N > 0 && b.N > 0
	}
}

func p50(s load.Summary) time.Duration { return s.P50 }
func p99(s load.Summary) time.Duration { return s.P99 }

func ratio(w2 bool) func(r, ref *configResult) (float64, bool) {
	return func(r, ref *configResult) (float64, bool) {
		a, b := r.w1RPS, ref.w1RPS
		if w2 {
			a, b = r.w2RPS, ref.w2RPS
		}
		return a / b, a > 0 && b > 0
	}
}

// vsRows are the rows against a direct reference, in table order: each
// row against direct-inproc follows its row against direct.
var vsRows = []vsRow{
	{"W2 added latency p50 vs direct, 1 connection", "µs", true, 0, false, added(true, p50)},
	{w2AddedP50InProcRow, "µs", true, 0, true, added(true, p50)},
	{"W2 added latency p99 vs direct, 1 connection", "µs", true, 0, false, added(true, p99)},
	{"W1 added latency p50 vs direct, 1 connection", "µs", true, 0, false, added(false, p50)},
	{w1AddedP50InProcRow, "µs", true, 0, true, added(false, p50)},
	{"W1 added latency p99 vs direct, 1 connection", "µs", true, 0, false, added(false, p99)},
	{"W2 throughput / direct", "x", false, 2, false, ratio(true)},
	{w2RatioInProcRow, "x", false, 2, true, ratio(true)},
	{"W1 throughput / direct", "x", false, 2, false, ratio(false)},
	{w1RatioInProcRow, "x", false, 2, true, ratio(false)},
}

// deriveVsDirect adds the rows against direct (every configuration but the
// two direct ones) and against direct-inproc (every configuration but
// itself, direct included: what the process boundary costs), row by row so
// that their order does not depend on the configurations', and the note
// comparing the two references for the best configuration.
func (h *harness) deriveVsDirect() {
	d, di := h.direct(), h.directInProc()
	for _, row := range vsRows {
		ref := d
		if row.inProc {
			ref = di
		}
		if ref == nil {
			continue
		}
		for _, rc := range h.rep.Configs {
			r := h.res[rc.Name]
			if r == nil || r == ref || r.cfg.InProc || (!row.inProc && r.cfg.Direct) {
				continue
			}
			if v, ok := row.value(r, ref); ok {
				h.rep.Set(row.name, row.unit, row.lower, row.decimals, rc.Name, v)
			}
		}
	}
	if n := h.inProcNote(d, di); n != "" {
		h.rep.Notes = append(h.rep.Notes, n)
	}
}

// inProcNote is the sentence saying that the targets are checked against
// direct, with the best configuration's figures against both references
// ("" unless both ran and a targeted configuration has a ratio).
func (h *harness) inProcNote(d, di *configResult) string {
	if d == nil || di == nil {
		return ""
	}
	// The best is the targeted configuration with the most W2 req/s (W1
	// when W2 was not measured).
	score := func(r *configResult) float64 {
		if d.w2RPS > 0 {
			return r.w2RPS
		}
		return r.w1RPS
	}
	var best *configResult
	for _, rc := range h.rep.Configs {
		if r := h.res[rc.Name]; r != nil && r.cfg.Targeted && score(r) > 0 && (best == nil || score(r) > score(best)) {
			best = r
		}
	}
	if best == nil {
		return ""
	}
	var parts []string
	for _, f := range []struct {
		what, format string
		val          func(r, ref *configResult) (float64, bool)
	}{
		{"W2 throughput", "%.2f× / %.2f×", ratio(true)},
		{"W1 throughput", "%.2f× / %.2f×", ratio(false)},
		{"W2 added p50", "%.0f / %.0f µs", added(true, p50)},
		{"W1 added p50", "%.0f / %.0f µs", added(false, p50)},
	} {
		v, ok := f.val(best, d)
		vi, oki := f.val(best, di)
		if ok && oki {
			parts = append(parts, f.what+" "+fmt.Sprintf(f.format, v, vi))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("Targets are checked against direct (the fake upstream in its own process, as any real upstream is), not against direct-inproc "+
		"(the upstream inside the load client's process, the baseline before %s); the best configuration, %s, measures against direct / against direct-inproc: %s.",
		inProcBaselineBefore, best.cfg.Name, strings.Join(parts, ", "))
}

// Labels of the rows deriveOverHop adds.
const (
	w2OverHopRow = "W2 translation and ccproxy's own work over a bare hop: CPU per request, ccproxy − hop"
	w1OverHopRow = "W1 ccproxy's own work over a bare hop (passthrough): CPU per request, ccproxy − hop"
	w2PerHopRow  = "W2 CPU per request relative to the bare hop's, ccproxy ÷ hop (steady across this VM's speed drift)"
	w1PerHopRow  = "W1 CPU per request relative to the bare hop's, ccproxy ÷ hop"
)

// deriveOverHop adds, for every targeted configuration, its CPU per request
// minus the hop's on the same workload: what translation and ccproxy's own
// work cost beyond what any Go proxy process costs.
func (h *harness) deriveOverHop() {
	hop := h.hop()
	if hop == nil {
		return
	}
	rows := 0
	for _, rc := range h.rep.Configs {
		r := h.res[rc.Name]
		if r == nil || !r.cfg.Targeted {
			continue
		}
		if r.w2CPU > 0 && hop.w2CPU > 0 {
			h.rep.Set(w2OverHopRow, "µs", true, 1, rc.Name, r.w2CPU-hop.w2CPU)
			h.rep.Set(w2PerHopRow, "x", true, 2, rc.Name, r.w2CPU/hop.w2CPU)
			rows++
		}
		if r.w1CPU > 0 && hop.w1CPU > 0 {
			h.rep.Set(w1OverHopRow, "µs", true, 1, rc.Name, r.w1CPU-hop.w1CPU)
			h.rep.Set(w1PerHopRow, "x", true, 2, rc.Name, r.w1CPU/hop.w1CPU)
			rows++
		}
	}
	if rows > 0 {
		h.rep.Notes = append(h.rep.Notes, "hop: its CPU per request and RSS are in the ccproxy rows (same /proc reading). "+
			"The rows \"… over a bare hop\" are a configuration's CPU per request minus the hop's on the same workload: "+
			"what translation and ccproxy's own work cost beyond any Go proxy process. "+
			"A negative value means that configuration, translation included, spends less CPU than Go's default net/http server and Transport relaying the already-translated request.")
	}
}
