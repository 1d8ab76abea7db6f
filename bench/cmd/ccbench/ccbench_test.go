package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/bench/load"
	"github.com/ccproxy/ccproxy/bench/report"
)

func TestSelectConfigsAndRunOrder(t *testing.T) {
	cfgs, err := selectConfigs("naive, fasthttp,hop,direct,naive,myengine")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cfgs {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "naive,fasthttp,hop,direct,myengine" {
		t.Fatalf("configs = %s", got)
	}
	if env := strings.Join(cfgs[4].Env, " "); env != "ENGINE=myengine" || !cfgs[4].Targeted {
		t.Fatalf("unknown name should run as an experimental engine: %+v", cfgs[4])
	}
	if env := strings.Join(cfgs[0].Env, " "); !strings.Contains(env, "MAX_KEEPALIVE_CONNECTIONS=2") || !strings.Contains(env, "HTTP2_ENABLED=false") {
		t.Fatalf("naive env = %s", env)
	}
	if hop := cfgs[2]; !hop.Hop || hop.Targeted || hop.Direct || len(hop.Env) != 0 || hop.Upstream != fakeupstream.H1 {
		t.Fatalf("hop must be an untargeted reference in front of the H1 upstream: %+v", hop)
	}
	if order := runOrder(cfgs); order[0].Name != "direct" || order[1].Name != "naive" || order[3].Name != "hop" {
		t.Fatalf("direct must run first, then the given order: %v", order)
	}
	if err := addProxyEnv(cfgs, "GOGC=200"); err != nil {
		t.Fatal(err)
	}
	if len(cfgs[2].Env) != 0 || len(cfgs[3].Env) != 0 || !slices.Contains(cfgs[1].Env, "GOGC=200") {
		t.Fatalf("-proxy-env goes to ccproxy configurations only: hop %v, direct %v, fasthttp %v", cfgs[2].Env, cfgs[3].Env, cfgs[1].Env)
	}
	inp, err := selectConfigs("fasthttp,direct-inproc,direct")
	if err != nil {
		t.Fatal(err)
	}
	if di := inp[1]; !di.InProc || !di.Direct || di.Targeted || di.Hop || di.Upstream != fakeupstream.H1 || !strings.Contains(di.Description, "no process boundary") {
		t.Fatalf("direct-inproc must be an untargeted direct reference with an in-process H1 upstream: %+v", di)
	}
	if d := inp[2]; d.InProc || !d.Direct {
		t.Fatalf("direct talks to the child upstream: %+v", d)
	}
	if order := runOrder(inp); order[0].Name != "direct-inproc" || order[1].Name != "direct" || order[2].Name != "fasthttp" {
		t.Fatalf("both direct configurations run first: %v", order)
	}
	if _, err := selectConfigs(" , "); err == nil {
		t.Fatal("empty selection accepted")
	}
}

func TestRotated(t *testing.T) {
	rs := []string{"direct", "naive", "fasthttp"}
	for round, want := range []string{"direct,naive,fasthttp", "naive,fasthttp,direct", "fasthttp,direct,naive", "direct,naive,fasthttp"} {
		if got := strings.Join(rotated(rs, round), ","); got != want {
			t.Errorf("round %d: %s, want %s", round, got, want)
		}
	}
	if strings.Join(rs, ",") != "direct,naive,fasthttp" || rotated([]string(nil), 1) != nil {
		t.Fatal("rotated changed its input or invented configurations")
	}
}

// TestSeriesTotalsOverTotals: the aggregate of rounds is total requests
// over total measured time and total CPU over total requests (not a mean
// of the rounds' rates), latency percentiles are over all samples, and the
// per-round values are kept.
func TestSeriesTotalsOverTotals(t *testing.T) {
	var s series
	s.add(load.Result{Requests: 100, Elapsed: time.Second, Samples: []time.Duration{1, 2, 3}}, 30*time.Millisecond, true)
	s.add(load.Result{Requests: 300, Errors: 1, FirstError: "boom", Elapsed: 2 * time.Second, Samples: []time.Duration{4, 5}}, 60*time.Millisecond, true)
	res := s.result()
	if res.RPS() != 400.0/3 || res.Requests != 400 || res.Errors != 1 || res.FirstError != "boom" {
		t.Fatalf("aggregate %+v rps %v; want 400 requests over 3 s", res, res.RPS())
	}
	if res.Latency.N != 5 || res.Latency.P50 != 3 || res.Latency.Max != 5 {
		t.Fatalf("latency over all samples: %+v", res.Latency)
	}
	if got := s.cpuPerRequest(); got != 90e3/400 {
		t.Fatalf("CPU per request %v µs; want 90 ms / 400", got)
	}
	if !slices.Equal(s.roundRPS, []float64{100, 150}) || !slices.Equal(s.roundCPU, []float64{300, 200}) {
		t.Fatalf("per-round values rps %v cpu %v", s.roundRPS, s.roundCPU)
	}
	var direct series
	direct.add(load.Result{Requests: 10, Elapsed: time.Second}, 0, false)
	if direct.cpuPerRequest() != 0 || len(direct.roundCPU) != 0 {
		t.Fatal("no CPU without a process")
	}
}

func TestParseFlagsDefaults(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.duration != 4*time.Second || o.seq != 300 || o.rounds != 3 || !strings.Contains(o.configs, "fasthttp,hop,direct,direct-inproc") || strings.Contains(o.configs, "h2c") || strings.Contains(o.configs, "fasthttp-tls") {
		t.Fatalf("quick defaults: %+v", o)
	}
	o, err = parseFlags([]string{"-full"})
	if err != nil {
		t.Fatal(err)
	}
	if o.duration != 15*time.Second || o.rounds != 5 || !strings.Contains(o.configs, "nethttp-h2c") || !strings.Contains(o.configs, "fasthttp,fasthttp-tls,hop,direct,direct-inproc") {
		t.Fatalf("full defaults: %+v", o)
	}
	if _, err := parseFlags([]string{"-scenarios", "w2,nope"}); err == nil {
		t.Fatal("unknown scenario accepted")
	}
}

// TestHarnessEndToEnd builds the real ccproxy, the hop and the fake
// upstream and runs a tiny benchmark (four configurations, four scenarios)
// through them, checking that the report files are written and carry
// measurements for each, the hop's reference rows, the rows against the
// in-process direct, and that the stream scenario's pacing reached the
// upstream child process.
func TestHarnessEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs ccproxy")
	}
	out := t.TempDir()
	o, err := parseFlags([]string{"-configs", "nethttp-h1,hop,direct,direct-inproc", "-scenarios", "latency,w1,burst,stream",
		"-seq", "20", "-duration", "400ms", "-warmup", "100ms", "-c1", "4", "-rounds", "2", "-pprof=false", "-out", out,
		"-ttft-delay", "20ms", "-chunk-interval", "1ms"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := run(ctx, o, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, m := range rep.Metrics {
		for cfg, v := range m.Values {
			if v != 0 {
				found[m.Name+"/"+cfg] = true
			}
		}
	}
	for _, want := range []string{
		"W2 latency p50, 1 connection/nethttp-h1", "W2 latency p50, 1 connection/direct",
		"W1 throughput, 4 connections/nethttp-h1", "W1 throughput, 4 connections/direct",
		"W1 ccproxy CPU per request/nethttp-h1", "W1 added latency p50 vs direct, 1 connection/nethttp-h1",
		"W1 throughput, 4 connections/hop", "W1 ccproxy CPU per request/hop", "W1 added latency p50 vs direct, 1 connection/hop",
		"ccproxy peak RSS (before the open-streams run)/hop", w1OverHopRow + "/nethttp-h1", w1PerHopRow + "/nethttp-h1",
		"W1 throughput / direct/nethttp-h1", "10 concurrent W2 requests, wall time (median)/nethttp-h1",
		"upstream connections opened (all runs above)/nethttp-h1",
		"W1 throughput, 4 connections/direct-inproc", "W2 latency p50, 1 connection/direct-inproc",
		"upstream connections opened (all runs above)/direct", "upstream connections opened (all runs above)/direct-inproc",
		"10 concurrent W2 requests, wall time (median)/direct-inproc",
		w1RatioInProcRow + "/nethttp-h1", w1RatioInProcRow + "/hop", w1RatioInProcRow + "/direct",
		w1AddedP50InProcRow + "/nethttp-h1", w2AddedP50InProcRow + "/direct",
	} {
		if !found[want] {
			t.Errorf("report lacks a value for %s", want)
		}
	}
	// The interleaved rounds: every configuration has one value per round
	// of W1 req/s, the processes one of CPU per request, and the aggregate
	// is total over total, so it lies within the rounds' range.
	for _, m := range rep.Metrics {
		var cfgs []string
		switch m.Name {
		case "W1 throughput, 4 connections":
			cfgs = []string{"nethttp-h1", "hop", "direct", "direct-inproc"}
		case "W1 ccproxy CPU per request":
			cfgs = []string{"nethttp-h1", "hop"}
		default:
			if len(m.Rounds) > 0 {
				t.Errorf("%s: per-round values on a row not measured in rounds: %v", m.Name, m.Rounds)
			}
			continue
		}
		if len(m.Rounds) != len(cfgs) {
			t.Errorf("%s: rounds for %d configurations, want %v: %v", m.Name, len(m.Rounds), cfgs, m.Rounds)
		}
		for _, c := range cfgs {
			rs := m.Rounds[c]
			v := m.Values[c]
			if len(rs.Values) != 2 || rs.Min != slices.Min(rs.Values) || rs.Max != slices.Max(rs.Values) || rs.Min <= 0 ||
				v < rs.Min*0.999 || v > rs.Max*1.001 {
				t.Errorf("%s/%s: aggregate %v, rounds %+v; want 2 positive rounds around the aggregate", m.Name, c, v, rs)
			}
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "Spread over the 2 interleaved rounds") || !strings.Contains(string(md), "measured in 2 interleaved rounds") {
		t.Errorf("report.md lacks the rounds' spread table or note:\n%s", md)
	}
	for _, m := range rep.Metrics {
		if _, ok := m.Values["hop"]; ok && (m.Name == w1OverHopRow || m.Name == w1PerHopRow) {
			t.Errorf("the hop has no row of its own CPU over itself")
		}
	}
	// The stream scenario paced the upstreams through SetOptions (the
	// child's control surface): no first token before the 20 ms delay
	// and the 1 ms to the first text after the role-only chunk, directly
	// as through a proxy (the first token is text, not the role chunk).
	for _, m := range rep.Metrics {
		if m.Name != "stream: time to first token p50 (upstream 20ms)" {
			continue
		}
		for _, c := range []string{"nethttp-h1", "hop", "direct", "direct-inproc"} {
			if v, ok := m.Values[c]; !ok || v < 21 {
				t.Errorf("%s: time to first token %v ms; want ≥ 21: the upstream's 20 ms delay, then 1 ms to its first text", c, v)
			}
		}
	}
	for _, m := range rep.Metrics {
		if _, ok := m.Values["direct-inproc"]; ok && strings.Contains(m.Name, "in-process direct") {
			t.Errorf("%s: direct-inproc against itself", m.Name)
		}
		if _, ok := m.Values["direct"]; ok && strings.Contains(m.Name, "vs direct") {
			t.Errorf("%s: direct against itself", m.Name)
		}
	}
	if !strings.Contains(string(md), "| direct-inproc |") || !strings.Contains(string(md), "Targets are checked against direct") {
		t.Errorf("report.md lacks the direct-inproc column or the note on the two references:\n%s", md)
	}
	for _, tg := range rep.Targets {
		if tg.Config == "hop" || tg.Config == "direct" || tg.Config == "direct-inproc" {
			t.Errorf("references are not checked against targets: %+v", tg)
		}
	}
	for _, n := range rep.Notes {
		if strings.Contains(n, "failed") || strings.Contains(n, "not measured") {
			t.Errorf("run had failures: %s", n)
		}
	}
	for _, f := range []string{"report.md", "chart.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}
