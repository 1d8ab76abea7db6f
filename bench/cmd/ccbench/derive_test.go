package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/bench/load"
	"github.com/ccproxy/ccproxy/bench/report"
)

// TestDeriveAgainstBothDirects: the rows against direct-inproc follow
// their rows against direct, cover direct itself (the process boundary's
// cost) but not direct-inproc, the targets use direct only, and the note
// quotes the best configuration against both.
func TestDeriveAgainstBothDirects(t *testing.T) {
	cfgs, err := selectConfigs("naive,fasthttp,nethttp-h1,hop,direct,direct-inproc")
	if err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags([]string{"-c2", "16", "-c1", "64", "-streams", "1000"})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{o: o, rep: &report.Report{}, res: map[string]*configResult{}}
	seq := func(p50 time.Duration) load.Summary { return load.Summary{N: 10, P50: p50, P99: 2 * p50} }
	vals := map[string]struct {
		w2, w1   float64
		w2p, w1p time.Duration
	}{
		"naive":         {1000, 5000, 900 * time.Microsecond, 400 * time.Microsecond},
		"fasthttp":      {2500, 11000, 500 * time.Microsecond, 300 * time.Microsecond},
		"nethttp-h1":    {2400, 12000, 550 * time.Microsecond, 320 * time.Microsecond},
		"hop":           {1800, 5000, 400 * time.Microsecond, 200 * time.Microsecond},
		"direct":        {5000, 34000, 200 * time.Microsecond, 90 * time.Microsecond},
		"direct-inproc": {6250, 42500, 140 * time.Microsecond, 30 * time.Microsecond},
	}
	for _, c := range cfgs {
		v := vals[c.Name]
		h.rep.Configs = append(h.rep.Configs, report.Config{Name: c.Name})
		h.res[c.Name] = &configResult{cfg: c, w2RPS: v.w2, w1RPS: v.w1, w2Seq: seq(v.w2p), w1Seq: seq(v.w1p)}
	}
	h.derive()

	var names []string
	for _, m := range h.rep.Metrics {
		names = append(names, m.Name)
	}
	want := []string{
		"W2 added latency p50 vs direct, 1 connection", w2AddedP50InProcRow, "W2 added latency p99 vs direct, 1 connection",
		"W1 added latency p50 vs direct, 1 connection", w1AddedP50InProcRow, "W1 added latency p99 vs direct, 1 connection",
		"W2 throughput / direct", w2RatioInProcRow, "W1 throughput / direct", w1RatioInProcRow,
	}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Fatalf("rows\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	get := func(row, cfg string) (float64, bool) {
		for _, m := range h.rep.Metrics {
			if m.Name == row {
				v, ok := m.Values[cfg]
				return v, ok
			}
		}
		return 0, false
	}
	for _, c := range []struct {
		row, cfg string
		want     float64
		present  bool
	}{
		{"W2 throughput / direct", "fasthttp", 0.5, true},
		{w2RatioInProcRow, "fasthttp", 0.4, true},
		{w2RatioInProcRow, "direct", 0.8, true},
		{w1RatioInProcRow, "hop", 5000.0 / 42500, true},
		{w2AddedP50InProcRow, "direct", 60, true},
		{w1AddedP50InProcRow, "fasthttp", 270, true},
		{"W1 added latency p50 vs direct, 1 connection", "fasthttp", 210, true},
		{"W2 throughput / direct", "direct", 0, false},
		{"W2 throughput / direct", "direct-inproc", 0, false},
		{w2RatioInProcRow, "direct-inproc", 0, false},
	} {
		v, ok := get(c.row, c.cfg)
		if ok != c.present || (ok && (v < c.want*0.999 || v > c.want*1.001)) {
			t.Errorf("%s/%s = %v (%v); want %v (%v)", c.row, c.cfg, v, ok, c.want, c.present)
		}
	}
	for _, tg := range h.rep.Targets {
		if tg.Config != "fasthttp" && tg.Config != "nethttp-h1" {
			t.Errorf("target on a reference: %+v", tg)
		}
		if tg.Name == "W2 req/s vs direct, 16 conns" && tg.Config == "fasthttp" && (tg.Value != 0.5 || !tg.Pass) {
			t.Errorf("the W2 target is against direct (0.5), not direct-inproc (0.4): %+v", tg)
		}
	}
	note := strings.Join(h.rep.Notes, "\n")
	for _, want := range []string{"Targets are checked against direct", "the best configuration, fasthttp,",
		"W2 throughput 0.50× / 0.40×", "W1 throughput 0.32× / 0.26×", "W2 added p50 300 / 360 µs", "W1 added p50 210 / 270 µs"} {
		if !strings.Contains(note, want) {
			t.Errorf("notes lack %q:\n%s", want, note)
		}
	}

	// Without direct-inproc: no such rows, no note.
	h2 := &harness{o: o, rep: &report.Report{Configs: h.rep.Configs[:5]}, res: map[string]*configResult{}}
	for k, v := range h.res {
		if k != "direct-inproc" {
			h2.res[k] = v
		}
	}
	h2.derive()
	for _, m := range h2.rep.Metrics {
		if strings.Contains(m.Name, "in-process") {
			t.Errorf("row %s without direct-inproc", m.Name)
		}
	}
	if strings.Contains(strings.Join(h2.rep.Notes, ""), "direct-inproc") {
		t.Errorf("note on direct-inproc without it: %v", h2.rep.Notes)
	}
}
