// Package report holds the results of a ccbench run and renders them as a
// Markdown table (the original guide's layout: metric, naive, each engine,
// improvement), JSON and an SVG chart.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Report is one benchmark run.
type Report struct {
	Meta Meta `json:"meta"`
	// Configs lists the configurations in column order. The first one named
	// Baseline (if present) is the "before" of the improvement column;
	// the ones named Direct (the physical limit), DirectInProc (the same
	// with the upstream inside the load client's process) and Hop (a bare
	// Go reverse proxy, the cost of any proxy process) are references and
	// never "improve".
	Configs []Config `json:"configs"`
	// Metrics are the table rows, in order.
	Metrics []Metric `json:"metrics"`
	// Distributions are latency distributions per configuration for the
	// chart (one set per workload).
	Distributions []Distribution `json:"distributions"`
	// Targets are the pass/fail checks against the targets.
	Targets []Target `json:"targets"`
	// Profiles lists the profiles (CPU, or heap for the memory target)
	// collected for missed targets.
	Profiles []string `json:"profiles,omitempty"`
	// Notes are free-text lines printed under the table.
	Notes []string `json:"notes,omitempty"`
}

// Names of the special configurations.
const (
	Baseline = "naive"
	Direct   = "direct"
	// DirectInProc is direct with the fake upstream inside the load
	// client's process: no process boundary, faster than any real
	// client/upstream pair (the "direct" of earlier runs).
	DirectInProc = "direct-inproc"
	Hop          = "hop"
)

// Meta describes the machine and the run.
type Meta struct {
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model,omitempty"`
	Mode      string `json:"mode"`
	Args      string `json:"args"`
	Commit    string `json:"commit,omitempty"`
	// LoadBefore and LoadAfter are the 1-minute load averages when the
	// run started and ended (the end one includes the run's own load).
	LoadBefore float64 `json:"load_before"`
	LoadAfter  float64 `json:"load_after"`
	// OtherCPU is the share (0-1) of the machine's CPU time during the run
	// that went to processes other than the harness and the processes it
	// started, StealCPU the share the hypervisor gave to other guests:
	// either skews every figure except CPU per request. CPUAccounted says
	// whether they were read (Linux /proc).
	OtherCPU     float64 `json:"other_cpu"`
	StealCPU     float64 `json:"steal_cpu"`
	CPUAccounted bool    `json:"cpu_accounted"`
	Seconds      float64 `json:"seconds"`
}

// Config describes one compared configuration.
type Config struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Metric is one table row: a value per configuration name. A missing
// configuration is shown as "–".
type Metric struct {
	Name string `json:"name"`
	Unit string `json:"unit"`
	// LowerIsBetter picks the direction of the improvement column.
	LowerIsBetter bool               `json:"lower_is_better"`
	Values        map[string]float64 `json:"values"`
	// Decimals is the number of decimals shown in the table.
	Decimals int `json:"decimals"`
	// Rounds holds, per configuration, the value of each interleaved
	// measurement round when the metric was measured in rounds (Values
	// then holds the aggregate over all rounds): their spread shows the
	// machine's noise.
	Rounds map[string]Rounds `json:"rounds,omitempty"`
}

// Rounds are one configuration's per-round values of a metric and their
// range.
type Rounds struct {
	Values []float64 `json:"values"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
}

// Distribution is a latency distribution of one workload per
// configuration, in microseconds.
type Distribution struct {
	Workload string                 `json:"workload"`
	Points   map[string]Percentiles `json:"points"`
}

// Percentiles of a latency distribution, microseconds.
type Percentiles struct {
	P50  float64 `json:"p50_us"`
	P90  float64 `json:"p90_us"`
	P99  float64 `json:"p99_us"`
	P999 float64 `json:"p999_us"`
	Max  float64 `json:"max_us"`
}

// Target is one check of a measured value against a limit.
type Target struct {
	Name   string  `json:"name"`
	Config string  `json:"config"`
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit"`
	// AtLeast means Value must be >= Limit (else <=).
	AtLeast bool   `json:"at_least"`
	Unit    string `json:"unit"`
	Pass    bool   `json:"pass"`
}

// Check fills in Pass.
func (t Target) Check() Target {
	if t.AtLeast {
		t.Pass = t.Value >= t.Limit
	} else {
		t.Pass = t.Value <= t.Limit
	}
	return t
}

// Set records value for config in the metric named name, creating the
// row (with unit, direction and decimals) on first use.
func (r *Report) Set(name, unit string, lowerIsBetter bool, decimals int, config string, value float64) {
	for i := range r.Metrics {
		if r.Metrics[i].Name == name {
			r.Metrics[i].Values[config] = value
			return
		}
	}
	r.Metrics = append(r.Metrics, Metric{Name: name, Unit: unit, LowerIsBetter: lowerIsBetter,
		Decimals: decimals, Values: map[string]float64{config: value}})
}

// SetRounds records config's per-round values of the metric named name,
// which must already exist (Set first); it is a no-op otherwise or when
// values is empty.
func (r *Report) SetRounds(name, config string, values []float64) {
	if len(values) == 0 {
		return
	}
	for i := range r.Metrics {
		if r.Metrics[i].Name != name {
			continue
		}
		rs := Rounds{Values: slices.Clone(values), Min: slices.Min(values), Max: slices.Max(values)}
		if r.Metrics[i].Rounds == nil {
			r.Metrics[i].Rounds = map[string]Rounds{}
		}
		r.Metrics[i].Rounds[config] = rs
		return
	}
}

// SetDistribution records a latency distribution for the chart.
func (r *Report) SetDistribution(workload, config string, p Percentiles) {
	for i := range r.Distributions {
		if r.Distributions[i].Workload == workload {
			r.Distributions[i].Points[config] = p
			return
		}
	}
	r.Distributions = append(r.Distributions, Distribution{Workload: workload, Points: map[string]Percentiles{config: p}})
}

// WriteFiles writes report.md, report.json and chart.svg into dir.
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report: encode json: %w", err)
	}
	files := map[string][]byte{
		"report.md":   []byte(r.Markdown()),
		"report.json": append(js, '\n'),
		"chart.svg":   []byte(r.SVG()),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	return nil
}

// busyShare is the share of the machine's CPU taken by other work (other
// processes, or the hypervisor's other guests) above which a run's
// throughput and latency figures are flagged as skewed.
const busyShare = 0.05

// Busy reports whether other work took more than busyShare of the
// machine during the run.
func (m Meta) Busy() bool {
	return m.CPUAccounted && (m.OtherCPU > busyShare || m.StealCPU > busyShare)
}
