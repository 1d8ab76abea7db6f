package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Markdown renders the report: a header with the machine, the comparison
// table, the target checks and the notes.
func (r *Report) Markdown() string {
	var b strings.Builder
	m := r.Meta
	fmt.Fprintf(&b, "# ccproxy benchmark (%s)\n\n", m.Mode)
	fmt.Fprintf(&b, "- Machine: %d CPUs", m.CPUs)
	if m.CPUModel != "" {
		fmt.Fprintf(&b, " (%s)", m.CPUModel)
	}
	fmt.Fprintf(&b, ", %s/%s, %s\n", m.OS, m.Arch, m.GoVersion)
	fmt.Fprintf(&b, "- Date: %s", m.Date)
	if m.Commit != "" {
		fmt.Fprintf(&b, ", commit %s", m.Commit)
	}
	fmt.Fprintf(&b, ", run took %.0f s\n", m.Seconds)
	fmt.Fprintf(&b, "- Load average (1 min) at start / end: %.2f / %.2f (the end figure includes the run's own load)\n", m.LoadBefore, m.LoadAfter)
	if m.CPUAccounted {
		fmt.Fprintf(&b, "- Other work during the run: %.1f %% of the machine's CPU time went to processes outside the benchmark, %.1f %% was stolen by the hypervisor",
			100*m.OtherCPU, 100*m.StealCPU)
		if m.Busy() {
			b.WriteString(" — **the machine was busy with other work: throughput and latency are pessimistic and noisy; CPU per request is the robust figure**")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "- Command: `%s`\n\n", m.Args)

	b.WriteString("| configuration | what it is |\n| --- | --- |\n")
	for _, c := range r.Configs {
		fmt.Fprintf(&b, "| %s | %s |\n", c.Name, c.Description)
	}
	b.WriteString("\n")

	b.WriteString("| metric |")
	for _, c := range r.Configs {
		fmt.Fprintf(&b, " %s |", c.Name)
	}
	b.WriteString(" improvement |\n| --- |")
	for range r.Configs {
		b.WriteString(" ---: |")
	}
	b.WriteString(" ---: |\n")
	for _, mt := range r.Metrics {
		name := mt.Name
		if mt.Unit != "" {
			name += " (" + mt.Unit + ")"
		}
		fmt.Fprintf(&b, "| %s |", name)
		for _, c := range r.Configs {
			v, ok := mt.Values[c.Name]
			if !ok {
				b.WriteString(" – |")
				continue
			}
			fmt.Fprintf(&b, " %s |", strconv.FormatFloat(v, 'f', mt.Decimals, 64))
		}
		fmt.Fprintf(&b, " %s |\n", r.improvement(mt))
	}

	r.roundsTable(&b)

	if len(r.Targets) > 0 {
		b.WriteString("\n## Targets\n\n| target | configuration | measured | limit | result |\n| --- | --- | ---: | ---: | --- |\n")
		for _, t := range r.Targets {
			op := "≤"
			if t.AtLeast {
				op = "≥"
			}
			res := "**MISSED**"
			if t.Pass {
				res = "met"
			}
			fmt.Fprintf(&b, "| %s | %s | %s %s | %s %s %s | %s |\n", t.Name, t.Config,
				strconv.FormatFloat(t.Value, 'f', 2, 64), t.Unit, op, strconv.FormatFloat(t.Limit, 'f', 2, 64), t.Unit, res)
		}
	}
	if len(r.Profiles) > 0 {
		b.WriteString("\nProfiles of runs that missed a target (`go tool pprof -top <file>`; `*.pprof`: CPU, `*-memory.heap.pprof`: the heap with the streams open, `-sample_index=inuse_space`):\n\n")
		for _, p := range r.Profiles {
			fmt.Fprintf(&b, "- `%s`\n", p)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	b.WriteString("\n![chart](chart.svg)\n")
	return b.String()
}

// improvement compares the best configuration that is neither the baseline
// nor a reference (Direct, DirectInProc, Hop) with the baseline: "3.2x (fasthttp)" means
// fasthttp is 3.2 times better than naive on this metric. Empty when either side is missing, or when any
// value is zero or negative (differences such as added latency can be):
// a ratio of those means nothing.
func (r *Report) improvement(mt Metric) string {
	base, ok := mt.Values[Baseline]
	if !ok || base <= 0 {
		return ""
	}
	for _, v := range mt.Values {
		if v <= 0 {
			return ""
		}
	}
	best, bestName := math.NaN(), ""
	for _, c := range r.Configs {
		if c.Name == Baseline || c.Name == Direct || c.Name == DirectInProc || c.Name == Hop {
			continue
		}
		v, ok := mt.Values[c.Name]
		if !ok {
			continue
		}
		if math.IsNaN(best) || (mt.LowerIsBetter && v < best) || (!mt.LowerIsBetter && v > best) {
			best, bestName = v, c.Name
		}
	}
	if bestName == "" {
		return ""
	}
	ratio := best / base
	if mt.LowerIsBetter {
		ratio = base / best
	}
	return fmt.Sprintf("%.2fx (%s)", ratio, bestName)
}

// roundsTable renders, for the metrics measured in interleaved rounds, the
// range of the per-round values of each configuration ("2310–2580") and the
// widest relative range of the row ((max − min) / min): the noise that the
// aggregates in the main table average over.
func (r *Report) roundsTable(b *strings.Builder) {
	n := 0
	for _, mt := range r.Metrics {
		for _, rs := range mt.Rounds {
			n = max(n, len(rs.Values))
		}
	}
	if n == 0 {
		return
	}
	fmt.Fprintf(b, "\nSpread over the %d interleaved rounds (min–max of the per-round values; the table above holds the totals over all rounds):\n\n| metric |", n)
	for _, c := range r.Configs {
		fmt.Fprintf(b, " %s |", c.Name)
	}
	b.WriteString(" widest spread |\n| --- |")
	for range r.Configs {
		b.WriteString(" ---: |")
	}
	b.WriteString(" ---: |\n")
	for _, mt := range r.Metrics {
		if len(mt.Rounds) == 0 {
			continue
		}
		name := mt.Name
		if mt.Unit != "" {
			name += " (" + mt.Unit + ")"
		}
		fmt.Fprintf(b, "| %s |", name)
		widest := math.NaN()
		for _, c := range r.Configs {
			rs, ok := mt.Rounds[c.Name]
			if !ok {
				b.WriteString(" – |")
				continue
			}
			fmt.Fprintf(b, " %s–%s |", strconv.FormatFloat(rs.Min, 'f', mt.Decimals, 64), strconv.FormatFloat(rs.Max, 'f', mt.Decimals, 64))
			if rs.Min > 0 && (math.IsNaN(widest) || (rs.Max-rs.Min)/rs.Min > widest) {
				widest = (rs.Max - rs.Min) / rs.Min
			}
		}
		if math.IsNaN(widest) {
			b.WriteString("  |\n")
			continue
		}
		fmt.Fprintf(b, " %.0f %% |\n", 100*widest)
	}
}
