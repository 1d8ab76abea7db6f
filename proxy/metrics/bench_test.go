package metrics

import (
	"io"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// benchRequest is a typical finished /v1/messages stream.
func benchRequest() *Request {
	return &Request{
		Route: "messages", Status: 200,
		RequestedModel: "claude-sonnet-4-5-20250929", ResolvedModel: "gpt-5", Stream: true,
		Total: 1200 * time.Millisecond, UpstreamHeaders: 300 * time.Millisecond,
		UpstreamTotal: 1199 * time.Millisecond, TTFT: 350 * time.Millisecond,
		InputTokens: 12000, OutputTokens: 400, CachedTokens: 8000,
		BytesIn: 55000, BytesOut: 6000, UpstreamEncoding: "gzip",
		UpstreamWireBytes: 2000, UpstreamBytes: 9000, StopReason: "tool_use",
	}
}

func BenchmarkObserve(b *testing.B) {
	m := New(Info{Models: testModels})
	r := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(r)
	}
}

func BenchmarkObserveParallel(b *testing.B) {
	m := New(Info{Models: testModels})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := benchRequest()
		for pb.Next() {
			m.Observe(r)
		}
	})
}

// logRequest is the per-request access log line the edge is expected to
// write (zerolog, stable keys).
func logRequest(log zerolog.Logger, r *Request) {
	log.Info().
		Str("route", r.Route).
		Int("status", r.Status).
		Str("model", r.RequestedModel).
		Str("resolved_model", r.ResolvedModel).
		Bool("stream", r.Stream).
		Dur("dur_ms", r.Total).
		Dur("ttfb_ms", r.UpstreamHeaders).
		Dur("ttft_ms", r.TTFT).
		Int("input_tokens", r.InputTokens).
		Int("output_tokens", r.OutputTokens).
		Int("cached_tokens", r.CachedTokens).
		Str("stop_reason", r.StopReason).
		Msg("request")
}

// BenchmarkObserveAndLog is the full per-request observability cost on
// the hot path: in-flight gauge, stream gauge, Observe and one access-log
// line.
func BenchmarkObserveAndLog(b *testing.B) {
	m := New(Info{Models: testModels})
	log := zerolog.New(io.Discard).With().Timestamp().Logger()
	r := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		done := m.RequestStarted()
		m.StreamOpened()
		m.StreamClosed()
		m.Observe(r)
		logRequest(log, r)
		done()
	}
}

func BenchmarkScrapeJSON(b *testing.B) {
	m := New(Info{Models: testModels, Pool: testPool})
	observeFixture(m)
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Snapshot()
	}
}
