package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ccproxy/ccproxy/bench/ccproc"
	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/bench/load"
	"github.com/ccproxy/ccproxy/bench/report"
)

// harness is the state of one ccbench run.
type harness struct {
	o          options
	root, tmp  string
	bin        string
	hopBin     string // bench/cmd/hop, built when a hop configuration is selected
	upBin      string // bench/cmd/fakeupstream, run once per upstream protocol
	logLevel   string
	ups        *upstreams
	fixture    []byte
	translated []byte
	// w2Events is the number of SSE events the upstream sends for W2.
	w2Events int
	rep      *report.Report
	prog     *progressLine
	scen     map[string]bool
	// results per configuration name, used for overhead and targets.
	res map[string]*configResult
}

// configResult keeps what later computations (overhead vs direct,
// targets) need.
type configResult struct {
	cfg            benchConfig
	w2Seq, w1Seq   load.Summary
	w2RPS, w1RPS   float64
	w2CPU, w1CPU   float64 // µs per request
	openStreamsRSS float64 // MB
	proc           *proxyProc
	stopped        bool // proc was stopped
	up             upstream
	work           workloads
	cl             *load.Client
	// upErr is the first failure to read the upstream's stats (counted).
	upErr error
	// The interleaved rounds' slices: 1-connection sequential and
	// closed-loop throughput, per workload.
	w2SeqS, w1SeqS, w2Thr, w1Thr series
	// connsOpened counts the upstream connections accepted while this
	// configuration was sending load (see counted).
	connsOpened int64
}

func run(ctx context.Context, o options, args []string) error {
	started := time.Now()
	cpu0, cpu0Err := readCPUAccount() // what the machine does besides this run (see otherWork)
	root, err := ccproc.ModuleRoot()
	if err != nil {
		return err
	}
	cfgs, err := selectConfigs(o.configs)
	if err != nil {
		return err
	}
	if err := addProxyEnv(cfgs, o.proxyEnv); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "ccbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	h := &harness{o: o, root: root, tmp: tmp, logLevel: o.logLevel, prog: newProgressLine(os.Stderr),
		scen: map[string]bool{}, res: map[string]*configResult{}}
	for s := range strings.SplitSeq(o.scenarios, ",") {
		h.scen[strings.TrimSpace(s)] = true
	}
	out := o.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	if err := os.MkdirAll(out, 0o755); err != nil { // profiles land here during the run
		return err
	}
	if err := clearProfiles(out); err != nil {
		return err
	}
	if h.fixture, err = os.ReadFile(filepath.Join(root, o.fixture)); err != nil {
		return fmt.Errorf("read fixture: %w", err)
	}
	h.rep = &report.Report{Meta: machineMeta(root, o, args)}
	for _, c := range cfgs {
		h.rep.Configs = append(h.rep.Configs, report.Config{Name: c.Name, Description: c.Description})
	}
	h.prog.Printf("ccbench: %d CPUs, %s; configurations %s; scenarios %s\n", runtime.NumCPU(), runtime.Version(), o.configs, o.scenarios)

	h.bin = o.bin
	if h.bin == "" {
		h.prog.Printf("building ./cmd/ccproxy ...\n")
		if h.bin, err = ccproc.Build(ctx, root, tmp, o.tags); err != nil {
			return err
		}
	}
	if slices.ContainsFunc(cfgs, func(c benchConfig) bool { return c.Hop }) {
		h.prog.Printf("building ./bench/cmd/hop ...\n")
		if err := h.buildHop(ctx); err != nil {
			return err
		}
	}
	h.prog.Printf("building ./bench/cmd/fakeupstream ...\n")
	if err := h.buildUpstream(ctx); err != nil {
		return err
	}
	if h.ups, err = startUpstreams(cfgs, tmp, h.upBin, fakeupstream.Options{Chunks: o.chunks, TextOnly: true}); err != nil {
		return err
	}
	defer h.ups.Close()
	if h.translated, err = captureTranslation(ctx, h, h.fixture); err != nil {
		return fmt.Errorf("capture W2 translation: %w", err)
	}
	if h.w2Events, err = countUpstreamEvents(h); err != nil {
		return fmt.Errorf("probe W2 upstream stream: %w", err)
	}
	h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("W2 = `%s` (%d bytes, stream:true) on /v1/messages; direct sends its translation (%d bytes) to the upstream. "+
		"The fake upstream (TextOnly) streams a text reply in %d SSE events (role, -chunks=%d content chunks, finish, usage, [DONE]). "+
		"W1 = a %d-byte OpenAI chat request (non-streaming) on the passthrough route /v1/chat/completions.",
		filepath.Base(o.fixture), len(h.fixture), len(h.translated), h.w2Events, o.chunks, len(w1Body)))

	if err := h.runConfigs(ctx, cfgs); err != nil {
		return err
	}
	// Every ccproxy and hop process has been waited for; so must the
	// upstreams be before the CPU account is read, or their CPU would
	// count as other work.
	h.ups.Close()
	if cpu1, err := readCPUAccount(); err == nil && cpu0Err == nil {
		h.rep.Meta.OtherCPU, h.rep.Meta.StealCPU, h.rep.Meta.CPUAccounted = otherWork(cpu0, cpu1)
	}
	h.derive()
	h.rep.Meta.Seconds = time.Since(started).Seconds()
	h.rep.Meta.LoadAfter = loadAverage()
	if err := h.rep.WriteFiles(out); err != nil {
		return err
	}
	fmt.Println()
	fmt.Print(h.rep.Markdown())
	h.prog.Printf("\nwrote %s/{report.md,report.json,chart.svg} in %.0fs\n", out, time.Since(started).Seconds())
	return nil
}

// runConfigs starts every configuration up front (direct first), measures
// the interleaved scenarios in rounds across all of them, profiles the
// configurations that missed a throughput, CPU or latency target, then runs the
// other scenarios one configuration at a time, stopping each one's process
// when it is done.
func (h *harness) runConfigs(ctx context.Context, cfgs []benchConfig) error {
	var live []*configResult
	defer func() {
		for _, r := range live {
			r.close()
		}
	}()
	for i, c := range runOrder(cfgs) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h.prog.Printf("[%d/%d] start %s: %s\n", i+1, len(cfgs), c.Name, c.Description)
		r, err := h.startConfig(ctx, c)
		if uerr := h.ups.exited(); uerr != nil {
			if r != nil {
				r.close()
			}
			return uerr
		}
		if err != nil {
			h.prog.Printf("  %s: %v (skipped)\n", c.Name, err)
			h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("%s: not measured: %v", c.Name, firstLine(err.Error())))
			continue
		}
		h.res[c.Name] = r
		live = append(live, r)
	}
	h.runRounds(ctx, live)
	if err := h.ups.exited(); err != nil {
		return err
	}
	h.profileMissed(ctx, live)
	if err := h.ups.exited(); err != nil {
		return err
	}
	var solo []string
	for _, s := range allScenarios {
		if h.scen[s] && !slices.Contains(interleavedScenarios, s) {
			solo = append(solo, s)
		}
	}
	for i, r := range live {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h.prog.Printf("[%d/%d] %s: %s\n", i+1, len(live), r.cfg.Name, strings.Join(append(solo, "peak RSS"), ", "))
		h.runSolo(ctx, r)
		r.close()
		if err := h.ups.exited(); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// buildHop builds bench/cmd/hop (the bare reverse-proxy reference) next to
// the ccproxy binary in the harness's temp directory.
func (h *harness) buildHop(ctx context.Context) error {
	bin, err := ccproc.BuildPackage(ctx, h.root, h.tmp, "./bench/cmd/hop", "")
	if err != nil {
		return err
	}
	h.hopBin = bin
	return nil
}

// buildUpstream builds bench/cmd/fakeupstream (the fake upstream, run as
// child processes) into the harness's temp directory.
func (h *harness) buildUpstream(ctx context.Context) error {
	bin, err := ccproc.BuildPackage(ctx, h.root, h.tmp, "./bench/cmd/fakeupstream", "")
	if err != nil {
		return err
	}
	h.upBin = bin
	return nil
}

// loadAverage is the 1-minute load average (0 if unknown).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// machineMeta describes the machine for the report header.
func machineMeta(root string, o options, args []string) report.Meta {
	m := report.Meta{
		Date: time.Now().UTC().Format("2006-01-02 15:04 MST"), GoVersion: runtime.Version(),
		OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Mode: "make bench (quick)",
		Args: strings.TrimSpace("go run ./bench/cmd/ccbench " + strings.Join(args, " ")),
	}
	if o.full {
		m.Mode = "make bench-full"
	}
	m.LoadBefore = loadAverage()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	cmd := exec.Command("git", "rev-parse", "--short", "HEAD")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	return m
}

// profileGlobs match the profiles a run writes into its output directory.
var profileGlobs = []string{"*-w1.pprof", "*-w2.pprof", "*-latency.pprof", "*-memory.heap.pprof"}

// clearProfiles removes an earlier run's profiles from out: the report
// lists the profiles of its own run, and one left from another run (a
// target missed then, met now) would read as this run's.
func clearProfiles(out string) error {
	for _, g := range profileGlobs {
		old, err := filepath.Glob(filepath.Join(out, g))
		if err != nil {
			return err
		}
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	return nil
}
