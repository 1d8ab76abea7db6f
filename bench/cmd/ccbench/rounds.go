package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ccproxy/ccproxy/bench/load"
)

// The scenarios that feed the targets (latency, w2, w1) are measured in
// interleaved rounds: every configuration's process is up at once, and
// each round gives every configuration one slice of each of them, so that
// all configurations see the same machine state (this VM's speed drifts by
// ±25 % over minutes; measured one after the other, minutes apart, the
// ratios against direct flipped from run to run).

// series accumulates one load (a workload at a concurrency) of one
// configuration over the rounds.
type series struct {
	requests, errors int64
	firstErr         string
	elapsed          time.Duration // sum of the measured windows
	cpu              time.Duration // child's CPU over those windows
	samples          []time.Duration
	// roundRPS and roundCPU (µs per request) are the values of each round.
	roundRPS, roundCPU []float64
}

// add records one slice: its result and, when withCPU, the child's CPU
// time spent during its window.
func (s *series) add(res load.Result, cpu time.Duration, withCPU bool) {
	s.requests += res.Requests
	s.errors += res.Errors
	if s.firstErr == "" {
		s.firstErr = res.FirstError
	}
	s.elapsed += res.Elapsed
	s.samples = append(s.samples, res.Samples...)
	s.roundRPS = append(s.roundRPS, res.RPS())
	if withCPU && res.Requests > 0 {
		s.cpu += cpu
		s.roundCPU = append(s.roundCPU, usf(cpu)/float64(res.Requests))
	}
}

// result is the aggregate over all slices: requests and errors summed,
// the measured windows' wall time summed (so RPS is total requests over
// total measured time), the latency distribution of all samples.
func (s *series) result() load.Result {
	return load.Result{Requests: s.requests, Errors: s.errors, FirstError: s.firstErr, Elapsed: s.elapsed,
		Latency: load.Summarize(s.samples)}
}

// cpuPerRequest is the total CPU over the measured windows divided by the
// total requests, in µs (0 when not measured).
func (s *series) cpuPerRequest() float64 {
	if s.requests == 0 || len(s.roundCPU) == 0 {
		return 0
	}
	return usf(s.cpu) / float64(s.requests)
}

// rotated returns rs starting at index round mod len(rs): each round starts
// with another configuration, so none is always the first after a pause.
func rotated[T any](rs []T, round int) []T {
	if len(rs) == 0 {
		return nil
	}
	k := round % len(rs)
	return append(append(make([]T, 0, len(rs)), rs[k:]...), rs[:k]...)
}

// throughputLoad is one closed-loop throughput scenario.
type throughputLoad struct {
	scen, name string
	conc       int
	req        func(*configResult) *load.Request
	ser        func(*configResult) *series
}

func (h *harness) throughputLoads() []throughputLoad {
	return []throughputLoad{
		{"w2", "W2", h.o.c2, func(r *configResult) *load.Request { return r.work.W2 }, func(r *configResult) *series { return &r.w2Thr }},
		{"w1", "W1", h.o.c1, func(r *configResult) *load.Request { return r.work.W1 }, func(r *configResult) *series { return &r.w1Thr }},
	}
}

// interleaved reports whether any interleaved scenario is selected.
func (h *harness) interleaved() bool {
	return h.scen["latency"] || h.scen["w2"] || h.scen["w1"]
}

// runRounds measures the latency, w2 and w1 scenarios of every started
// configuration in h.o.rounds interleaved rounds. In each round, each
// selected scenario visits every configuration (starting one further each
// round) for one slice: latency runs seq/rounds sequential W2 then W1
// requests after a few warm-up ones; w2 and w1 run the warm-up then a window
// of duration/rounds, with the child's CPU read around the window. It then
// records the aggregate rows and the per-round values.
func (h *harness) runRounds(ctx context.Context, rs []*configResult) {
	if !h.interleaved() || len(rs) == 0 {
		return
	}
	n := h.o.rounds
	seq := int64((h.o.seq + n - 1) / n)
	window := h.o.duration / time.Duration(n)
	h.warmAll(ctx, rs)
	// A dead upstream child stops the rounds at the next slice (runConfigs
	// then fails the run): the remaining windows would measure only errors.
	gone := func() bool { return ctx.Err() != nil || h.ups.exited() != nil }
	for round := range n {
		if gone() {
			return
		}
		h.prog.Printf("round %d/%d: %d sequential W2 and W1 requests, %v windows of W2 and W1 throughput per configuration\n",
			round+1, n, seq, window)
		order := rotated(rs, round)
		if h.scen["latency"] {
			for _, r := range order {
				if gone() {
					return
				}
				r.counted(func() { h.latencySlice(ctx, r, seq, round) })
			}
		}
		for _, tl := range h.throughputLoads() {
			if !h.scen[tl.scen] {
				continue
			}
			for _, r := range order {
				if gone() {
					return
				}
				r.counted(func() { h.throughputSlice(ctx, r, tl, window, round) })
			}
		}
	}
	h.recordRounds(rs)
	h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("latency, w2 and w1 were measured in %d interleaved rounds: all configurations' processes were up at once, "+
		"and after an unmeasured warm-up of each, each round ran, for every configuration in turn (starting one further each round), %d sequential W2 then W1 requests, "+
		"and a %v warm-up then a %v window of W2 and of W1 throughput. Latency percentiles are over all rounds' samples; req/s is total requests over total measured time; "+
		"CPU per request is the child's total CPU over the measured windows over total requests; ratios vs direct divide those totals, direct having run in the same rounds. "+
		"The spread table shows the per-round values. The other scenarios ran per configuration afterwards, each process stopped after its own; the memory scenario's idle RSS is read, as before the rounds existed, on the process that had run all the other scenarios (it sat idle while the other configurations ran).",
		n, seq, h.o.warmup, window))
}

// warmAll sends every configuration, freshly started, an unmeasured dose of
// each interleaved load (20 sequential requests, then -warmup of each
// throughput load), so that the first round does not measure processes
// still growing their pools and heaps.
func (h *harness) warmAll(ctx context.Context, rs []*configResult) {
	h.prog.Printf("warm-up (not measured): every configuration in turn\n")
	for _, r := range rs {
		r.counted(func() {
			for _, req := range []*load.Request{r.work.W2, r.work.W1} {
				load.RunClosed(ctx, r.cl, req, load.Closed{Concurrency: 1, Requests: 20})
			}
			for _, tl := range h.throughputLoads() {
				if h.scen[tl.scen] {
					load.RunClosed(ctx, r.cl, tl.req(r), load.Closed{Concurrency: tl.conc, Duration: h.o.warmup})
				}
			}
		})
	}
}

// latencySlice runs one round's sequential W2 then W1 requests on one
// connection.
func (h *harness) latencySlice(ctx context.Context, r *configResult, seq int64, round int) {
	for _, wl := range []struct {
		name string
		req  *load.Request
		ser  *series
	}{{"W2", r.work.W2, &r.w2SeqS}, {"W1", r.work.W1, &r.w1SeqS}} {
		load.RunClosed(ctx, r.cl, wl.req, load.Closed{Concurrency: 1, Requests: 5}) // warm after the pause
		res := h.track(r.cfg.Name, fmt.Sprintf("%s 1 conn r%d", wl.name, round+1), func(p *load.Progress) load.Result {
			return load.RunClosed(ctx, r.cl, wl.req, load.Closed{Concurrency: 1, Requests: seq, Duration: 60 * time.Second, Progress: p, KeepSamples: true})
		})
		wl.ser.add(res, 0, false)
	}
}

// throughputSlice runs one round's warm-up and measured window of a
// closed-loop throughput load, reading the child's CPU around the window.
func (h *harness) throughputSlice(ctx context.Context, r *configResult, tl throughputLoad, window time.Duration, round int) {
	req := tl.req(r)
	load.RunClosed(ctx, r.cl, req, load.Closed{Concurrency: tl.conc, Duration: h.o.warmup})
	cpu0 := r.cpu()
	res := h.track(r.cfg.Name, fmt.Sprintf("%s %d conns r%d", tl.name, tl.conc, round+1), func(p *load.Progress) load.Result {
		return load.RunClosed(ctx, r.cl, req, load.Closed{Concurrency: tl.conc, Duration: window, Progress: p, KeepSamples: true})
	})
	cpu1 := r.cpu()
	tl.ser(r).add(res, cpu1-cpu0, r.proc != nil)
}

// recordRounds writes the aggregate rows of the interleaved scenarios and
// the per-round values of req/s and CPU per request, row group by row group
// so that the rows keep their order.
func (h *harness) recordRounds(rs []*configResult) {
	if h.scen["latency"] {
		for _, wl := range []struct {
			name string
			ser  func(*configResult) *series
			dst  func(*configResult) *load.Summary
		}{
			{"W2", func(r *configResult) *series { return &r.w2SeqS }, func(r *configResult) *load.Summary { return &r.w2Seq }},
			{"W1", func(r *configResult) *series { return &r.w1SeqS }, func(r *configResult) *load.Summary { return &r.w1Seq }},
		} {
			for _, r := range rs {
				res := wl.ser(r).result()
				h.noteErrors(r.cfg.Name, wl.name+" sequential", res)
				if res.Latency.N == 0 {
					continue
				}
				*wl.dst(r) = res.Latency
				h.rep.Set(wl.name+" latency p50, 1 connection", "ms", true, 3, r.cfg.Name, ms(res.Latency.P50))
				h.rep.Set(wl.name+" latency p99, 1 connection", "ms", true, 3, r.cfg.Name, ms(res.Latency.P99))
				h.rep.SetDistribution(wl.name+", 1 connection, sequential", r.cfg.Name, percentiles(res.Latency))
			}
		}
	}
	for _, tl := range h.throughputLoads() {
		if !h.scen[tl.scen] {
			continue
		}
		label := fmt.Sprintf("%s throughput, %d connections", tl.name, tl.conc)
		cpuLabel := tl.name + " ccproxy CPU per request"
		for _, r := range rs {
			s := tl.ser(r)
			res := s.result()
			h.noteErrors(r.cfg.Name, tl.name+" throughput", res)
			if res.Requests == 0 {
				continue
			}
			rps := res.RPS()
			h.rep.Set(label, "req/s", false, 0, r.cfg.Name, rps)
			h.rep.SetRounds(label, r.cfg.Name, s.roundRPS)
			h.rep.Set(fmt.Sprintf("%s latency p99, %d connections", tl.name, tl.conc), "ms", true, 2, r.cfg.Name, ms(res.Latency.P99))
			h.rep.SetDistribution(fmt.Sprintf("%s, %d connections, closed loop", tl.name, tl.conc), r.cfg.Name, percentiles(res.Latency))
			cpu := s.cpuPerRequest()
			if r.proc != nil && cpu > 0 {
				h.rep.Set(cpuLabel, "µs", true, 1, r.cfg.Name, cpu)
				h.rep.SetRounds(cpuLabel, r.cfg.Name, s.roundCPU)
			}
			if tl.name == "W2" {
				r.w2RPS, r.w2CPU = rps, cpu
			} else {
				r.w1RPS, r.w1CPU = rps, cpu
			}
			h.prog.Printf("  %-12s %-22s %9.0f req/s over %d rounds (%.0f–%.0f)", r.cfg.Name, label, rps, len(s.roundRPS), minOf(s.roundRPS), maxOf(s.roundRPS))
			if r.proc != nil && cpu > 0 {
				h.prog.Printf(", %.1f µs CPU/request (%.1f–%.1f)", cpu, minOf(s.roundCPU), maxOf(s.roundCPU))
			}
			h.prog.Printf("\n")
		}
	}
}

// profileMissed reruns, for every targeted configuration whose aggregate
// W2 or W1 throughput, CPU per request or added latency at one connection
// missed a target, that load once more while fetching a CPU profile of its
// ccproxy.
func (h *harness) profileMissed(ctx context.Context, rs []*configResult) {
	d := h.direct()
	if !h.o.pprof || d == nil {
		return
	}
	for _, r := range rs {
		if r.proc == nil || !r.cfg.Targeted {
			continue
		}
		for _, m := range missedLoads(r, d, h.o) {
			if ctx.Err() != nil || !h.scen[m.scen] {
				continue
			}
			r.counted(func() { h.profile(ctx, r.cfg, r, r.cl, m.name, m.req, m.conc) })
		}
	}
}

// missedLoad is a load to profile: the scenario whose target it missed,
// the profile's name and the request and concurrency to rerun.
type missedLoad struct {
	scen, name string
	req        *load.Request
	conc       int
}

// missedLoads lists r's loads that missed a target against direct d: W2 or
// W1 throughput or CPU per request at their concurrency, and the added
// latency at the one connection it was measured at (there the CPU on the
// request's path is most of what ccproxy adds).
func missedLoads(r, d *configResult, o options) []missedLoad {
	var out []missedLoad
	add := func(missed bool, m missedLoad) {
		if missed {
			out = append(out, m)
		}
	}
	add((d.w2RPS > 0 && r.w2RPS/d.w2RPS < targetW2Ratio) || r.w2CPU > targetW2CPU, missedLoad{"w2", "W2", r.work.W2, o.c2})
	add((d.w1RPS > 0 && r.w1RPS/d.w1RPS < targetW1Ratio) || r.w1CPU > targetW1CPU, missedLoad{"w1", "W1", r.work.W1, o.c1})
	add(r.w2Seq.N > 0 && d.w2Seq.N > 0 && usf(r.w2Seq.P50-d.w2Seq.P50) > targetAddedP50, missedLoad{"latency", "W2-latency", r.work.W2, 1})
	add(r.w1Seq.N > 0 && d.w1Seq.N > 0 && usf(r.w1Seq.P50-d.w1Seq.P50) > targetAddedP50, missedLoad{"latency", "W1-latency", r.work.W1, 1})
	return out
}

func minOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Min(v)
}

func maxOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Max(v)
}
