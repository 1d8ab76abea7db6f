package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/bench/load"
)

// TestClearProfiles: an earlier run's profiles go, so the results
// directory holds only the profiles its report lists; anything else in it
// stays.
func TestClearProfiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"fasthttp-w2.pprof", "nethttp-h1-w1.pprof", "fasthttp-w2-latency.pprof", "nethttp-h2-memory.heap.pprof",
		"report.md", "report.json", "chart.svg", "notes.pprof.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := clearProfiles(dir); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if want := []string{"chart.svg", "notes.pprof.txt", "report.json", "report.md"}; !slices.Equal(left, want) {
		t.Fatalf("left %v, want %v", left, want)
	}
}

// TestMissedLoads: every missed target gets its load profiled, at the
// concurrency it was measured at (the added-latency targets at one
// connection), and a configuration that meets them all gets none.
func TestMissedLoads(t *testing.T) {
	o := options{c1: 64, c2: 16}
	w1, w2 := &load.Request{}, &load.Request{}
	d := &configResult{w2RPS: 1000, w1RPS: 1000,
		w2Seq: load.Summary{N: 10, P50: time.Millisecond}, w1Seq: load.Summary{N: 10, P50: 500 * time.Microsecond}}
	good := func() *configResult {
		return &configResult{w2RPS: 600, w1RPS: 400, w2CPU: 250, w1CPU: 70,
			w2Seq: load.Summary{N: 10, P50: 1200 * time.Microsecond}, w1Seq: load.Summary{N: 10, P50: 700 * time.Microsecond},
			work: workloads{W1: w1, W2: w2}}
	}
	names := func(ms []missedLoad) (out []string) {
		for _, m := range ms {
			out = append(out, fmt.Sprintf("%s/%s/%d", m.scen, m.name, m.conc))
			if (m.req == w1) == strings.HasPrefix(m.name, "W2") {
				t.Errorf("%s reruns the other workload's request", m.name)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		mod  func(r *configResult)
		want []string
	}{
		{"all met", func(*configResult) {}, nil},
		{"W2 throughput", func(r *configResult) { r.w2RPS = 400 }, []string{"w2/W2/16"}},
		{"W1 CPU", func(r *configResult) { r.w1CPU = 81 }, []string{"w1/W1/64"}},
		{"W2 added latency", func(r *configResult) { r.w2Seq.P50 = 1301 * time.Microsecond }, []string{"latency/W2-latency/1"}},
		{"W1 added latency", func(r *configResult) { r.w1Seq.P50 = 801 * time.Microsecond }, []string{"latency/W1-latency/1"}},
		{"latency not measured", func(r *configResult) { r.w2Seq = load.Summary{}; r.w1Seq.N = 0; r.w1Seq.P50 = time.Second }, nil},
	} {
		r := good()
		tc.mod(r)
		if got := names(missedLoads(r, d, o)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: profiled %v, want %v", tc.name, got, tc.want)
		}
	}
}
