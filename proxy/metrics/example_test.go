package metrics_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/ccproxy/ccproxy/proxy/metrics"
)

// Example shows how the HTTP edge wires metrics: one Metrics per process,
// both endpoints on the mux, and per request RequestStarted, StreamOpened/
// StreamClosed for SSE, Retry per upstream retry and one Observe at the end.
func Example() {
	info := metrics.Info{Version: "dev", Engine: "nethttp", Models: []string{"gpt-5"}}
	// info.FromEngine(eng) adds the engine's Describe() settings and pool stats.
	m := metrics.New(info)

	mux := http.NewServeMux()
	mux.Handle("GET /v1/metrics", m.JSONHandler())
	mux.Handle("GET /metrics", m.PrometheusHandler())

	// Inside the /v1/messages handler:
	done := m.RequestStarted()
	m.StreamOpened()
	m.Retry("status_429")
	m.StreamClosed()
	m.Observe(&metrics.Request{
		Route: "messages", Status: 200, Stream: true,
		RequestedModel: "claude-sonnet-4-5-20250929", ResolvedModel: "gpt-5",
		Total: 900 * time.Millisecond, UpstreamHeaders: 200 * time.Millisecond,
		UpstreamTotal: 898 * time.Millisecond, TTFT: 250 * time.Millisecond,
		Retries: 1, InputTokens: 1200, OutputTokens: 80,
	})
	done()

	s := m.Snapshot()
	fmt.Println(s.Requests.ByRequestedModel, s.Requests.ByResolvedModel, s.Retries.ByCause)
	fmt.Printf("overhead %.1f ms, tokens in %d out %d\n", s.Latency.Overhead.P50, s.Tokens.Input, s.Tokens.Output)
	// Output:
	// map[sonnet:1] map[gpt-5:1] map[status_429:1]
	// overhead 2.0 ms, tokens in 1200 out 80
}
