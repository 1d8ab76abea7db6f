package report

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sample() *Report {
	r := &Report{
		Meta: Meta{Date: "2026-11-30", GoVersion: "go1.26.8", OS: "linux", Arch: "amd64", CPUs: 2, Mode: "quick", Args: "ccbench", LoadBefore: 3.5, LoadAfter: 1,
			OtherCPU: 0.083, StealCPU: 0.01, CPUAccounted: true},
		Configs: []Config{{Name: Baseline}, {Name: "nethttp-h1"}, {Name: "fasthttp"}, {Name: Hop}, {Name: Direct}, {Name: DirectInProc}},
	}
	r.Set("W2 throughput", "req/s", false, 0, Baseline, 1000)
	r.Set("W2 throughput", "req/s", false, 0, "nethttp-h1", 2000)
	r.Set("W2 throughput", "req/s", false, 0, "fasthttp", 2500)
	r.Set("W2 throughput", "req/s", false, 0, Hop, 4000)           // a reference: never the "best"
	r.Set("W2 throughput", "req/s", false, 0, Direct, 9000)        // never the "best"
	r.Set("W2 throughput", "req/s", false, 0, DirectInProc, 12000) // never the "best"
	r.Set("p50 latency", "ms", true, 3, Baseline, 2)
	r.Set("p50 latency", "ms", true, 3, "nethttp-h1", 0.5)
	r.Set("p50 latency", "ms", true, 3, Hop, 0.1)
	r.Set("only some", "MB", true, 1, "fasthttp", 12.5)
	r.Set("added", "µs", true, 0, Baseline, 700)
	r.Set("added", "µs", true, 0, "fasthttp", -20)
	r.SetRounds("W2 throughput", "fasthttp", []float64{2400, 2600, 2500})
	r.SetRounds("W2 throughput", Direct, []float64{9100, 8900, 9000})
	r.SetRounds("W2 throughput", DirectInProc, []float64{11000, 13200, 12000})
	r.SetRounds("no such row", "fasthttp", []float64{1})
	r.SetDistribution("W2 sequential", Baseline, Percentiles{P50: 900, P90: 1500, P99: 4000, P999: 9000, Max: 12000})
	r.SetDistribution("W2 sequential", "fasthttp", Percentiles{P50: 300, P90: 500, P99: 800, P999: 1200, Max: 1500})
	r.Targets = []Target{
		Target{Name: "W2 vs direct", Config: "fasthttp", Value: 0.6, Limit: 0.5, AtLeast: true, Unit: "x"}.Check(),
		Target{Name: "W2 CPU/req", Config: "fasthttp", Value: 350, Limit: 300, Unit: "µs"}.Check(),
	}
	return r
}

func TestMarkdownTableAndImprovement(t *testing.T) {
	md := sample().Markdown()
	for _, want := range []string{
		"2 CPUs, linux/amd64, go1.26.8",
		"at start / end: 3.50 / 1.00 (the end figure includes the run's own load)\n",
		"- Other work during the run: 8.3 % of the machine's CPU time went to processes outside the benchmark, 1.0 % was stolen by the hypervisor — **the machine was busy",
		"| metric | naive | nethttp-h1 | fasthttp | hop | direct | direct-inproc | improvement |",
		"| W2 throughput (req/s) | 1000 | 2000 | 2500 | 4000 | 9000 | 12000 | 2.50x (fasthttp) |",
		"| p50 latency (ms) | 2.000 | 0.500 | – | 0.100 | – | – | 4.00x (nethttp-h1) |",
		"| only some (MB) | – | – | 12.5 | – | – | – |  |",
		"| added (µs) | 700 | – | -20 | – | – | – |  |",
		"| W2 vs direct | fasthttp | 0.60 x | ≥ 0.50 x | met |",
		"| W2 CPU/req | fasthttp | 350.00 µs | ≤ 300.00 µs | **MISSED** |",
		"Spread over the 3 interleaved rounds",
		"| W2 throughput (req/s) | – | – | 2400–2600 | – | 8900–9100 | 11000–13200 | 20 % |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q\n%s", want, md)
		}
	}
}

func TestSVGIsWellFormedAndHasEveryConfig(t *testing.T) {
	svg := sample().SVG()
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("svg is not well-formed XML: %v\n%s", err, svg)
		}
	}
	for _, want := range []string{">naive<", ">fasthttp<", ">direct<", ">direct-inproc<", "W2 throughput", "W2 sequential", ">9000<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("svg lacks %q", want)
		}
	}
}

func TestWriteFilesRoundTripsJSON(t *testing.T) {
	dir := t.TempDir()
	r := sample()
	if err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.md", "chart.svg"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Metrics[0].Values["fasthttp"] != 2500 || back.Targets[1].Pass || !back.Targets[0].Pass || back.Meta.CPUs != 2 {
		t.Fatalf("json round trip lost data: %+v", back)
	}
	if rs := back.Metrics[0].Rounds["fasthttp"]; rs.Min != 2400 || rs.Max != 2600 || len(rs.Values) != 3 || rs.Values[1] != 2600 {
		t.Fatalf("per-round values lost: %+v", back.Metrics[0].Rounds)
	}
	if !strings.Contains(string(b), `"min": 2400`) || len(back.Metrics[1].Rounds) != 0 {
		t.Fatalf("rounds in the json: %s", b)
	}
}

// TestBusyVerdict: the "busy" warning follows other work (other processes
// or stolen time above 5 %), not the load average, which the run itself
// drives to the CPU count; without a CPU account there is no verdict line.
func TestBusyVerdict(t *testing.T) {
	for _, c := range []struct {
		other, steal float64
		accounted    bool
		line, busy   bool
	}{
		{0.01, 0.01, true, true, false},
		{0.06, 0, true, true, true},
		{0, 0.07, true, true, true},
		{0.5, 0.5, false, false, false},
	} {
		r := sample()
		r.Meta.LoadBefore, r.Meta.LoadAfter = 4, 4 // high either way: must not decide
		r.Meta.OtherCPU, r.Meta.StealCPU, r.Meta.CPUAccounted = c.other, c.steal, c.accounted
		md := r.Markdown()
		if got := strings.Contains(md, "- Other work during the run:"); got != c.line {
			t.Errorf("%+v: other-work line shown %v", c, got)
		}
		if got := strings.Contains(md, "the machine was busy"); got != c.busy || r.Meta.Busy() != c.busy {
			t.Errorf("%+v: busy warning %v, Busy() %v", c, got, r.Meta.Busy())
		}
	}
}
