package load

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// fasthttp's idle-connection cleaner sleeps out MaxIdleConnDuration after
// CloseIdleConnections, and its default dialer keeps a DNS-cache cleaner for
// the process lifetime; both are the library's, not leaks of ours.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"))
}

// upstream serves /sse (5 events, flushed one by one), /json and /fail.
func upstream(t *testing.T, hits *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/sse":
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 5 {
				content := fmt.Sprintf("t%d", i) // OpenAI's first chunk has the role and no text
				if i == 0 {
					content = ""
				}
				fmt.Fprintf(w, "event: e\r\ndata: {\"choices\":[{\"delta\":{\"content\":%q}}],\"n\":%d}\r\n\r\n", content, len(body))
				w.(http.Flusher).Flush()
			}
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"n":%d}`, len(body))
		default:
			http.Error(w, "nope", http.StatusTeapot)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// upstreamClient starts the test upstream and a client for it with conns
// connections; hits counts the requests the upstream served.
func upstreamClient(t *testing.T, conns int) (*httptest.Server, *Client, *atomic.Int64) {
	t.Helper()
	hits := new(atomic.Int64)
	srv := upstream(t, hits)
	c, err := NewClient(srv.URL, conns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return srv, c, hits
}

func TestClosedLoopCountsEveryRequestAndEvent(t *testing.T) {
	srv, c, hits := upstreamClient(t, 4)
	p := &Progress{}
	res := RunClosed(context.Background(), c, &Request{URL: srv.URL + "/sse", Body: []byte(`{"x":1}`)},
		Closed{Concurrency: 4, Requests: 40, Gaps: true, Progress: p})
	if res.Requests != 40 || res.Errors != 0 || hits.Load() != 40 {
		t.Fatalf("requests=%d errors=%d (%s) hits=%d; want 40, 0, 40", res.Requests, res.Errors, res.FirstError, hits.Load())
	}
	if res.Events != 200 || res.FirstEvent.N != 40 || res.FirstToken.N != 40 || res.Gap.N != 160 {
		t.Fatalf("events=%d firstEvent.N=%d firstToken.N=%d gaps=%d; want 200, 40, 40, 160",
			res.Events, res.FirstEvent.N, res.FirstToken.N, res.Gap.N)
	}
	if p.Done.Load() != 40 || p.Open.Load() != 0 {
		t.Fatalf("progress done=%d open=%d; want 40, 0", p.Done.Load(), p.Open.Load())
	}
	if res.Latency.P50 <= 0 || res.Latency.P99 < res.Latency.P50 || res.RPS() <= 0 {
		t.Fatalf("bad summary %+v rps=%v", res.Latency, res.RPS())
	}
}

// TestClosedLoopKeepsSamples: with KeepSamples the sorted latency samples
// of the successful requests come back (and only then), so that runs can be
// merged into one distribution.
func TestClosedLoopKeepsSamples(t *testing.T) {
	srv, c, _ := upstreamClient(t, 2)
	req := &Request{URL: srv.URL + "/json", Body: []byte(`{}`)}
	res := RunClosed(context.Background(), c, req, Closed{Concurrency: 2, Requests: 30, KeepSamples: true})
	if res.Requests != 30 || len(res.Samples) != 30 || !slices.IsSorted(res.Samples) {
		t.Fatalf("requests=%d samples=%d sorted=%v; want 30 sorted samples", res.Requests, len(res.Samples), slices.IsSorted(res.Samples))
	}
	if s := Summarize(slices.Clone(res.Samples)); s != res.Latency {
		t.Fatalf("summary of the samples %+v differs from the run's %+v", s, res.Latency)
	}
	if res := RunClosed(context.Background(), c, req, Closed{Concurrency: 1, Requests: 3}); res.Samples != nil {
		t.Fatalf("samples returned without KeepSamples: %d", len(res.Samples))
	}
}

func TestNonSSEResponseHasNoEventsAndErrorsAreCounted(t *testing.T) {
	srv, c, _ := upstreamClient(t, 2)
	res := RunClosed(context.Background(), c, &Request{URL: srv.URL + "/json", Body: []byte(`{}`)}, Closed{Concurrency: 2, Requests: 10})
	if res.Requests != 10 || res.Events != 0 || res.FirstEvent.N != 0 {
		t.Fatalf("json run: %+v", res)
	}
	res = RunClosed(context.Background(), c, &Request{URL: srv.URL + "/fail"}, Closed{Concurrency: 1, Requests: 3})
	if res.Requests != 0 || res.Errors != 3 || res.FirstError == "" {
		t.Fatalf("fail run: requests=%d errors=%d first=%q; want 0, 3, an error", res.Requests, res.Errors, res.FirstError)
	}
}

func TestOpenLoopSendsRateTimesDuration(t *testing.T) {
	srv, c, hits := upstreamClient(t, 8)
	res := RunOpen(context.Background(), c, &Request{URL: srv.URL + "/json", Body: []byte(`{}`)},
		Open{Rate: 200, Duration: 250 * time.Millisecond, MaxInFlight: 8})
	if res.Requests != 50 || hits.Load() != 50 {
		t.Fatalf("requests=%d hits=%d; want 50 (200/s for 250ms)", res.Requests, hits.Load())
	}
	// The schedule spans 245 ms, so the run cannot be shorter.
	if res.Elapsed < 245*time.Millisecond {
		t.Fatalf("elapsed %v; want >= 245ms", res.Elapsed)
	}
}

func TestBurstRunsAllRounds(t *testing.T) {
	srv, c, _ := upstreamClient(t, 10)
	wall, res := Burst(context.Background(), c, &Request{URL: srv.URL + "/sse", Body: []byte(`{}`)}, 10, 3)
	if res.Requests != 30 || wall <= 0 {
		t.Fatalf("requests=%d wall=%v; want 30, > 0", res.Requests, wall)
	}
}

// TestCarriesToken: the first token is the first generated text, not an
// event that merely has a delta (OpenAI's role-only first chunk) or a
// preamble (message_start, content_block_start).
func TestCarriesToken(t *testing.T) {
	for _, c := range []struct {
		p    string
		want bool
	}{
		{`data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null}}]}`, false},
		{`data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}`, true},
		{`data: {"choices":[{"delta":{"content":""}}]} data: {"choices":[{"delta":{"content":"x"}}]}`, true},
		{`data: {"choices":[{"delta":{"reasoning_content":"hmm"}}]}`, true},
		{`data: {"choices":[{"delta":{"reasoning":"hmm"}}]}`, true},
		{`data: {"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":""}}]}}]}`, false},
		{`data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a"}}]}}]}`, true},
		{"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"content\":[]}}\n\n", false},
		{"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n", false},
		{"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n", true},
		{`"content":"`, false}, // cut at the read's end
	} {
		if got := carriesToken([]byte(c.p)); got != c.want {
			t.Errorf("carriesToken(%s) = %v, want %v", c.p, got, c.want)
		}
	}
}

func TestEventScannerAcrossSplits(t *testing.T) {
	stream := []byte("data: a\n\ndata: b\r\n\r\n: c\n\n")
	for split := range len(stream) {
		var s eventScanner
		if n := s.scan(stream[:split]) + s.scan(stream[split:]); n != 3 {
			t.Fatalf("split at %d: %d events; want 3", split, n)
		}
	}
}

func TestSummarize(t *testing.T) {
	d := make([]time.Duration, 0, 100)
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	s := Summarize(d)
	if s.N != 100 || s.P50 != 50*time.Millisecond || s.P99 != 99*time.Millisecond || s.Max != 100*time.Millisecond {
		t.Fatalf("summary %+v", s)
	}
	if (Summarize(nil) != Summary{}) {
		t.Fatal("empty summary not zero")
	}
}

func BenchmarkClientSSE(b *testing.B) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		for range 20 {
			_, _ = io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"hello\"}}]}\n\n")
		}
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := &Request{URL: srv.URL, Body: []byte(`{}`)}
	buf := make([]byte, 32<<10)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Do(req, time.Now(), buf, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}
