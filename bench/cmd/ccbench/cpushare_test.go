package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/pprof/profile"
)

// TestCPUShares writes a CPU profile with one sample per attribution rule
// and checks where cpuShares puts each.
func TestCPUShares(t *testing.T) {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     10_000_000,
	}
	var id uint64
	loc := func(names ...string) *profile.Location { // names: innermost inlined first
		id++
		l := &profile.Location{ID: id}
		for _, n := range names {
			id++
			f := &profile.Function{ID: id, Name: n}
			p.Function = append(p.Function, f)
			l.Line = append(l.Line, profile.Line{Function: f})
		}
		p.Location = append(p.Location, l)
		return l
	}
	sample := func(ns int64, stack ...*profile.Location) {
		p.Sample = append(p.Sample, &profile.Sample{Value: []int64{1, ns}, Location: stack})
	}
	handler := loc("github.com/ccproxy/ccproxy/proxy.(*Handler).ServeHTTP")
	serve := loc("net/http.(*conn).serve")
	sample(40, loc("internal/runtime/syscall/linux.Syscall6"), loc("syscall.write"), handler, serve)         // kernel
	sample(10, loc("runtime.futex"), loc("runtime.notewakeup"))                                              // kernel
	sample(20, loc("runtime.mallocgc"), handler, serve)                                                      // runtime
	sample(10, loc("runtime.memmove"), loc("bufio.(*Writer).Write", "net/http.(*chunkWriter).Write"), serve) // memmove for net/http (inlined caller)
	sample(15, loc("indexbytebody"), loc("github.com/tidwall/gjson.Get"), handler, serve)                    // library for ccproxy
	sample(5, loc("github.com/valyala/fasthttp.(*ResponseHeader).parse"), handler)
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()

	got, err := cpuShares(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"system calls": 0.5, "Go runtime": 0.2, "net/http": 0.1, "ccproxy": 0.15, "fasthttp library": 0.05}
	for c, w := range want {
		if math.Abs(got[c]-w) > 1e-9 {
			t.Errorf("%s: %.3f, want %.3f (all: %v)", c, got[c], w, got)
		}
	}
	if n := cpuSharesNote(got); n != "system calls 50%, Go runtime 20%, net/http 10%, fasthttp library 5%, ccproxy 15%" {
		t.Errorf("note %q", n)
	}
}
