package report

import (
	"fmt"
	"html"
	"math"
	"strings"
)

const (
	svgWidth   = 960
	labelWidth = 130
	plotWidth  = svgWidth - labelWidth - 150
	rowHeight  = 22
)

var palette = []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"}

// SVG renders the chart: one latency-distribution panel per workload (bars
// to p50, p90 and p99 on a log scale, a tick at p99.9) and one panel of
// throughput bars per req/s metric.
func (r *Report) SVG() string {
	var body strings.Builder
	y := 30
	fmt.Fprintf(&body, `<text x="10" y="20" font-size="15" font-weight="bold">ccproxy benchmark — %d CPUs, %s (%s)</text>`+"\n",
		r.Meta.CPUs, html.EscapeString(r.Meta.GoVersion), html.EscapeString(r.Meta.Mode))
	for _, d := range r.Distributions {
		y = r.latencyPanel(&body, d, y+10)
	}
	for _, mt := range r.Metrics {
		if mt.Unit == "req/s" {
			y = r.barPanel(&body, mt, y+10)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", svgWidth, y+20)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	b.WriteString(body.String())
	b.WriteString("</svg>\n")
	return b.String()
}

func (r *Report) color(config string) string {
	for i, c := range r.Configs {
		if c.Name == config {
			return palette[i%len(palette)]
		}
	}
	return "#888"
}

func (r *Report) latencyPanel(b *strings.Builder, d Distribution, y int) int {
	fmt.Fprintf(b, `<text x="10" y="%d" font-weight="bold">latency: %s (bars p50 / p90 / p99, tick p99.9; log scale)</text>`+"\n", y+12, html.EscapeString(d.Workload))
	y += 20
	lo, hi := math.Inf(1), 0.0
	for _, p := range d.Points {
		if p.P50 > 0 {
			lo = min(lo, p.P50)
		}
		hi = max(hi, p.P999, p.P99)
	}
	if hi <= 0 || math.IsInf(lo, 1) {
		return y
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	x := func(v float64) float64 {
		if v <= lo {
			return labelWidth
		}
		return labelWidth + plotWidth*math.Log10(v/lo)/math.Log10(hi/lo)
	}
	for _, c := range r.Configs {
		p, ok := d.Points[c.Name]
		if !ok {
			continue
		}
		col := r.color(c.Name)
		fmt.Fprintf(b, `<text x="10" y="%d">%s</text>`+"\n", y+15, html.EscapeString(c.Name))
		for i, v := range []float64{p.P99, p.P90, p.P50} {
			op := []float64{0.3, 0.6, 1}[i]
			fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.1f" height="16" fill="%s" fill-opacity="%.1f"/>`+"\n",
				labelWidth, y+2, x(v)-labelWidth, col, op)
		}
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="black"/>`+"\n", x(p.P999), x(p.P999), y, y+20)
		fmt.Fprintf(b, `<text x="%d" y="%d" fill="#333">p50 %s · p99 %s</text>`+"\n", labelWidth+plotWidth+8, y+15, us(p.P50), us(p.P99))
		y += rowHeight
	}
	for v := lo; v <= hi*1.001; v *= 10 {
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ccc"/><text x="%.1f" y="%d" font-size="10" text-anchor="middle">%s</text>`+"\n",
			x(v), x(v), y, y+4, x(v), y+15, us(v))
	}
	return y + 20
}

func (r *Report) barPanel(b *strings.Builder, mt Metric, y int) int {
	fmt.Fprintf(b, `<text x="10" y="%d" font-weight="bold">%s (req/s, higher is better)</text>`+"\n", y+12, html.EscapeString(mt.Name))
	y += 20
	hi := 0.0
	for _, v := range mt.Values {
		hi = max(hi, v)
	}
	if hi <= 0 {
		return y
	}
	for _, c := range r.Configs {
		v, ok := mt.Values[c.Name]
		if !ok {
			continue
		}
		fmt.Fprintf(b, `<text x="10" y="%d">%s</text>`+"\n", y+15, html.EscapeString(c.Name))
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.1f" height="16" fill="%s"/>`+"\n", labelWidth, y+2, plotWidth*v/hi, r.color(c.Name))
		fmt.Fprintf(b, `<text x="%.1f" y="%d">%.0f</text>`+"\n", labelWidth+plotWidth*v/hi+6, y+15, v)
		y += rowHeight
	}
	return y
}

// us formats microseconds compactly.
func us(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2gs", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3gms", v/1e3)
	default:
		return fmt.Sprintf("%.3gµs", v)
	}
}
