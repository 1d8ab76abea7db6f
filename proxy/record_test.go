package proxy

import (
	"io"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccproxy/ccproxy/proxy/metrics"
)

// finishRig is a Handler with metrics and an info-level JSON logger, as in
// production, writing to io.Discard.
func finishRig(tb testing.TB) (*Handler, *reqState) {
	m := metrics.New(metrics.Info{Version: "bench", Engine: "nethttp", Models: []string{"gpt-4.1"}})
	h := &Handler{cfg: Config{EngineName: "nethttp"}, metrics: m, log: zerolog.New(io.Discard).With().Timestamp().Logger()}
	rs := &reqState{
		id: "req_0123456789ABCDEF_1", route: routeMessages, start: time.Now().Add(-30 * time.Millisecond), status: 200,
		requested: "claude-opus-5-5", resolved: "gpt-4.1", stream: true, stopReason: "end_turn",
		upstreamStart: 50 * time.Microsecond, headAt: 2 * time.Millisecond, upstreamDone: 29 * time.Millisecond,
		ttft: 5 * time.Millisecond, inTok: 12000, outTok: 300, cTok: 100, bytesIn: 55000, bytesOut: 9000,
		upstreamID: "chatcmpl-123",
	}
	rs.at.HeadersTime = 2 * time.Millisecond
	return h, rs
}

// BenchmarkFinish is what metrics plus the per-request log line cost on
// every request.
func BenchmarkFinish(b *testing.B) {
	h, rs := finishRig(b)
	b.ReportAllocs()
	for b.Loop() {
		h.finish(rs)
	}
}
