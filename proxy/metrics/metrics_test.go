package metrics

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/engine"
)

var testModels = []string{"gpt-5", "qwen3-coder"}

func testPool() (engine.PoolStats, bool) {
	return engine.PoolStats{Open: 7, Idle: 3, InUse: 4, Created: 9, Reused: 120, Waits: 2}, true
}

// observeFixture records a fixed, known set of requests.
func observeFixture(m *Metrics) {
	// 100 streaming messages: Total i ms, upstream total i-1 ms... overhead
	// is exactly 2 ms for each.
	for i := 1; i <= 100; i++ {
		m.Observe(&Request{
			Route: "messages", Status: 200,
			RequestedModel: "claude-sonnet-4-5-20250929", ResolvedModel: "gpt-5",
			Stream:          true,
			Total:           time.Duration(i+2) * time.Millisecond,
			UpstreamHeaders: time.Duration(i) * time.Millisecond / 2,
			UpstreamTotal:   time.Duration(i) * time.Millisecond,
			TTFT:            time.Duration(i) * time.Millisecond,
			InputTokens:     100, OutputTokens: 10, CachedTokens: 50,
			BytesIn: 1000, BytesOut: 300,
			UpstreamEncoding: "gzip", UpstreamWireBytes: 250, UpstreamBytes: 1000,
			StopReason: "end_turn",
		})
	}
	// A rate-limited request with retries, unknown models on both sides.
	m.Observe(&Request{
		Route: "messages", Status: 429, RequestedModel: "some-client-model-x", ResolvedModel: "not-configured",
		ErrorType: "rate_limit_error", Total: 5 * time.Millisecond, Retries: 2,
	})
	// A bad request that never reached the upstream.
	m.Observe(&Request{
		Route: "count_tokens", Status: 400, RequestedModel: "claude-opus-4-1", ErrorType: "invalid_request_error",
		Total: time.Millisecond, BytesIn: 10,
	})
	// A passthrough request, identity encoding, configured requested model.
	m.Observe(&Request{
		Route: "chat_completions", Status: 200, RequestedModel: "qwen3-coder", ResolvedModel: "qwen3-coder",
		Total: 40 * time.Millisecond, UpstreamHeaders: 30 * time.Millisecond, UpstreamTotal: 35 * time.Millisecond,
		InputTokens: 7, OutputTokens: 3,
		UpstreamWireBytes: 500, UpstreamBytes: 500, StopReason: "weird_reason",
	})
	m.Observe(&Request{Route: "bogus", Status: 999, ErrorType: "something_new"})
	m.Retry("status_429")
	m.Retry("status_429")
	m.Retry("made_up")
	m.SetBreakerState("openai", "half_open")
	m.SetBreakerState("local", "closed")
	m.StreamOpened()
	m.StreamOpened()
	m.StreamClosed()
	m.Buffered(128 << 10)
	m.Buffered(-64 << 10)
	m.BufferWait()
	m.RequestStarted()
	done := m.RequestStarted()
	m.RequestStarted()
	done()
}

func getJSON(t *testing.T, h http.Handler) *Snapshot {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content-type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var s Snapshot
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("decode: %v\n%s", err, body)
	}
	return &s
}

func near(t *testing.T, name string, got, want, relTol float64) {
	t.Helper()
	if math.Abs(got-want) > relTol*want {
		t.Errorf("%s = %v, want %v ± %.1f%%", name, got, want, relTol*100)
	}
}

func wantCounts(t *testing.T, name string, got, want map[string]int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %v, want %v", name, got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s[%q] = %d, want %d (all: %v)", name, k, got[k], v, got)
		}
	}
}

func TestJSONSnapshot(t *testing.T) {
	m := New(Info{
		Version: "1.2.3", Engine: "nethttp", Models: testModels, Pool: testPool,
		Settings: map[string]any{"http2": true, "max_conns_per_host": 500, "dial_timeout": 10 * time.Second},
	})
	observeFixture(m)
	s := getJSON(t, m.JSONHandler())

	if s.Version != "1.2.3" || s.Engine != "nethttp" || s.UptimeSeconds <= 0 {
		t.Errorf("version/engine/uptime = %q %q %v", s.Version, s.Engine, s.UptimeSeconds)
	}
	if s.Settings["http2"] != true || s.Settings["max_conns_per_host"] != float64(500) || s.Settings["dial_timeout"] != "10s" {
		t.Errorf("settings = %v", s.Settings)
	}

	// Everything just happened: the recent window holds the same requests.
	if got, all := s.LatencyRecent.Total, s.Latency.Total; got.Count != all.Count || got.Count == 0 || got.Max != all.Max ||
		got.P50 < all.P50*0.94 || got.P50 > all.P50*1.06 || got.P99 < all.P99*0.94 || got.P99 > all.P99*1.06 {
		t.Errorf("recent total %+v, since start %+v", got, all)
	}
	if got, all := s.LatencyRecent.TTFT, s.Latency.TTFT; got.Count != all.Count || len(s.LatencyRecent.TotalByRoute) != len(s.Latency.TotalByRoute) {
		t.Errorf("recent ttft %+v / %d routes, since start %+v / %d routes", got, len(s.LatencyRecent.TotalByRoute), all, len(s.Latency.TotalByRoute))
	}

	r := s.Requests
	if r.Total != 104 || r.Streamed != 100 || r.InFlight != 2 || r.OpenStreams != 1 {
		t.Errorf("total/streamed/in_flight/open_streams = %d/%d/%d/%d, want 104/100/2/1", r.Total, r.Streamed, r.InFlight, r.OpenStreams)
	}
	if r.BufferedBytes != 64<<10 || r.BufferWaits != 1 {
		t.Errorf("buffered_bytes/buffer_waits = %d/%d, want %d/1", r.BufferedBytes, r.BufferWaits, 64<<10)
	}
	wantCounts(t, "by_route", r.ByRoute, map[string]int64{"messages": 101, "count_tokens": 1, "chat_completions": 1, "other": 1})
	wantCounts(t, "by_status", r.ByStatus, map[string]int64{"200": 101, "429": 1, "400": 1, "other": 1})
	wantCounts(t, "by_requested_model", r.ByRequestedModel, map[string]int64{"sonnet": 100, "other": 1, "opus": 1, "qwen3-coder": 1, "none": 1})
	wantCounts(t, "by_resolved_model", r.ByResolvedModel, map[string]int64{"gpt-5": 100, "other": 1, "none": 2, "qwen3-coder": 1})
	if len(r.Series) != 5 {
		t.Errorf("series = %+v, want 5 combinations", r.Series)
	}

	wantCounts(t, "errors", s.Errors.ByType, map[string]int64{"rate_limit_error": 1, "invalid_request_error": 1, "other": 1})
	if s.Errors.Total != 3 {
		t.Errorf("errors total = %d", s.Errors.Total)
	}

	// Totals: 3..102 ms (100 messages) plus 5, 1, 40 ms and one zero (not
	// recorded): 103 samples.
	lt := s.Latency
	if lt.Total.Count != 103 {
		t.Errorf("total latency count = %d, want 103", lt.Total.Count)
	}
	msg := lt.TotalByRoute["messages"]
	if msg.Count != 101 {
		t.Errorf("messages latency count = %d", msg.Count)
	}
	// messages: {5, 3..102}: p50 is the 51st value = 52 ms.
	near(t, "messages p50", msg.P50, 52, 0.02)
	near(t, "messages p95", msg.P95, 97, 0.02)
	near(t, "messages p99", msg.P99, 101, 0.02)
	near(t, "messages max", msg.Max, 102, 1e-9)
	near(t, "ttft p50", lt.TTFT.P50, 50, 0.02)
	near(t, "ttft p99", lt.TTFT.P99, 99, 0.02)
	near(t, "ttfb p50", lt.UpstreamHeaders.P50, 25, 0.02)
	if lt.TTFT.Count != 100 || lt.UpstreamHeaders.Count != 101 || lt.UpstreamTotal.Count != 101 {
		t.Errorf("ttft/ttfb/upstream counts = %d/%d/%d", lt.TTFT.Count, lt.UpstreamHeaders.Count, lt.UpstreamTotal.Count)
	}
	// Overhead: 2 ms for the 100 messages, 5 ms for the passthrough.
	if lt.Overhead.Count != 101 {
		t.Errorf("overhead count = %d", lt.Overhead.Count)
	}
	near(t, "overhead p50", lt.Overhead.P50, 2, 0.02)
	near(t, "overhead max", lt.Overhead.Max, 5, 1e-9)
	near(t, "overhead mean", lt.Overhead.Mean, (100*2.0+5)/101, 1e-9)

	if s.Retries.Total != 2 || s.Retries.RequestsRetried != 1 {
		t.Errorf("retries = %+v", s.Retries)
	}
	wantCounts(t, "retries by cause", s.Retries.ByCause, map[string]int64{"status_429": 2, "other": 1})
	if s.CircuitBreakers["openai"] != "half_open" || s.CircuitBreakers["local"] != "closed" {
		t.Errorf("breakers = %v", s.CircuitBreakers)
	}

	if s.Tokens.TokenCounts != (TokenCounts{Input: 10007, Output: 1003, Cached: 5000}) {
		t.Errorf("tokens = %+v", s.Tokens.TokenCounts)
	}
	if s.Tokens.ByModel["gpt-5"] != (TokenCounts{Input: 10000, Output: 1000, Cached: 5000}) {
		t.Errorf("tokens by model = %+v", s.Tokens.ByModel)
	}

	b := s.Bytes
	if b.ClientIn != 100010 || b.ClientOut != 30000 {
		t.Errorf("client bytes in/out = %d/%d", b.ClientIn, b.ClientOut)
	}
	if g := b.Upstream["gzip"]; g != (EncodingStats{Responses: 100, WireBytes: 25000, DecodedBytes: 100000, Ratio: 4}) {
		t.Errorf("gzip = %+v", g)
	}
	if id := b.Upstream["identity"]; id.Ratio != 1 || id.Responses != 1 {
		t.Errorf("identity = %+v", id)
	}
	near(t, "upstream ratio", b.UpstreamIn.Ratio, 100500.0/25500, 1e-9)
	wantCounts(t, "stop reasons", s.StopReasons, map[string]int64{"end_turn": 100, "other": 1})

	if s.Pool == nil || *s.Pool != (PoolStats{Open: 7, Idle: 3, InUse: 4, Created: 9, Reused: 120, Waits: 2}) {
		t.Errorf("pool = %+v", s.Pool)
	}
}

func TestJSONPoolAbsent(t *testing.T) {
	for name, pool := range map[string]func() (engine.PoolStats, bool){
		"nil":      nil,
		"ok=false": func() (engine.PoolStats, bool) { return engine.PoolStats{Open: 1}, false },
	} {
		t.Run(name, func(t *testing.T) {
			raw := scrapeJSON(t, New(Info{Pool: pool}))
			if _, ok := raw["pool"]; ok {
				t.Errorf("pool present: %s", raw["pool"])
			}
			if _, ok := raw["requests"]; !ok {
				t.Error("requests missing")
			}
		})
	}
}

func TestJSONHandlerMethod(t *testing.T) {
	srv := httptest.NewServer(New(Info{}).JSONHandler())
	defer srv.Close()
	resp, err := http.Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST status = %d", resp.StatusCode)
	}
}

func TestModelLabelsBounded(t *testing.T) {
	ml := newModelLabels([]string{"gpt-5", "", "gpt-5", "claude-sonnet-4-5"})
	cases := []struct {
		in            string
		req, resolved string
	}{
		{"", "none", "none"},
		{"gpt-5", "gpt-5", "gpt-5"},
		{"claude-sonnet-4-5", "claude-sonnet-4-5", "claude-sonnet-4-5"},
		{"claude-sonnet-4-5-20250929", "sonnet", "other"},
		{"claude-3-5-haiku-latest", "haiku", "other"},
		{"claude-opus-4-1", "opus", "other"},
		{"anything/else\n{}", "other", "other"},
	}
	for _, c := range cases {
		if got := ml.names[ml.requested(c.in)]; got != c.req {
			t.Errorf("requested(%q) = %q, want %q", c.in, got, c.req)
		}
		if got := ml.names[ml.resolved(c.in)]; got != c.resolved {
			t.Errorf("resolved(%q) = %q, want %q", c.in, got, c.resolved)
		}
	}
	if len(ml.names) != 7 {
		t.Errorf("names = %v, want 5 fixed + 2 configured", ml.names)
	}
}

// TestJSONRecentWindowAges: ten minutes later, the recent window is empty
// and the since-start figures are unchanged.
func TestJSONRecentWindowAges(t *testing.T) {
	m := New(Info{Version: "1", Engine: "nethttp", Models: testModels})
	observeFixture(m)
	before := getJSON(t, m.JSONHandler())
	m.started = m.started.Add(-10 * time.Minute) // the monotonic clock moves on
	after := getJSON(t, m.JSONHandler())
	if after.LatencyRecent.Total.Count != 0 || len(after.LatencyRecent.TotalByRoute) != 0 || after.LatencyRecent.TTFT.Count != 0 {
		t.Errorf("recent after 10 minutes: %+v", after.LatencyRecent)
	}
	if after.Latency.Total != before.Latency.Total || after.Latency.Total.Count == 0 {
		t.Errorf("since start changed: %+v → %+v", before.Latency.Total, after.Latency.Total)
	}
}
