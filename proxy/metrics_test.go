package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
)

// TestMetricsMove drives real traffic through each engine and checks that
// the figures move as they should.
func TestMetricsMove(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRig(t, eng, fakeupstream.Options{Compression: "auto"}, nil)
			for i := 0; i < 3; i++ {
				resp := post(t, r.URL, "/v1/messages", []byte(streamBody), nil)
				checkGrammar(t, readEvents(t, resp.Body))
				resp.Body.Close()
			}
			for i := 0; i < 2; i++ {
				resp := post(t, r.URL, "/v1/messages", []byte(unaryBody), nil)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.Header.Get("Server-Timing") == "" || resp.Header.Get("x-ccproxy-overhead-us") == "" {
					t.Fatalf("no overhead headers: %v", resp.Header)
				}
			}
			errorBody(t, post(t, r.URL, "/v1/messages", []byte(`{}`), nil))

			s := r.Metrics.Snapshot()
			if s.Requests.Total != 6 || s.Requests.ByRoute["messages"] != 6 || s.Requests.Streamed != 3 ||
				s.Requests.ByStatus["200"] != 5 || s.Requests.ByStatus["400"] != 1 {
				t.Fatalf("requests %+v", s.Requests)
			}
			if s.Requests.ByResolvedModel["gpt-4.1"] != 5 || s.Requests.ByRequestedModel["sonnet"] != 5 {
				t.Fatalf("models %+v %+v", s.Requests.ByResolvedModel, s.Requests.ByRequestedModel)
			}
			if s.Errors.ByType["invalid_request_error"] != 1 {
				t.Fatalf("errors %+v", s.Errors)
			}
			if s.Latency.TTFT.Count != 3 {
				t.Fatalf("TTFT must be recorded for the 3 streams only: %+v", s.Latency.TTFT)
			}
			if s.Latency.Overhead.Count == 0 || s.Latency.Overhead.Max > s.Latency.Total.Max {
				t.Fatalf("overhead %+v total %+v", s.Latency.Overhead, s.Latency.Total)
			}
			if s.Tokens.Output == 0 || s.Tokens.Input == 0 {
				t.Fatalf("tokens %+v", s.Tokens)
			}
			// The fake upstream compressed every answer (Compression "auto"):
			// the ratio per encoding comes from the engine's wire count.
			var coded int64
			for enc, e := range s.Bytes.Upstream {
				if enc != "identity" && enc != "" && e.Responses > 0 {
					coded += e.Responses
					if e.WireBytes <= 0 || e.DecodedBytes <= e.WireBytes || e.Ratio <= 1 {
						t.Fatalf("%s: %+v", enc, e)
					}
				}
			}
			if coded != 5 {
				t.Fatalf("compressed upstream responses %d, want 5: %+v", coded, s.Bytes.Upstream)
			}
			if s.Requests.InFlight != 0 || s.Requests.OpenStreams != 0 {
				t.Fatalf("gauges not back to 0: %+v", s.Requests)
			}
			if s.Pool == nil || s.Pool.Created < 1 || s.Pool.Reused < 1 {
				t.Fatalf("pool stats must show keep-alive reuse: %+v", s.Pool)
			}
			if s.CircuitBreakers["upstream"] != "closed" {
				t.Fatalf("breakers %v", s.CircuitBreakers)
			}

			// The Prometheus exposition parses and carries the same counts.
			resp, err := http.Get(r.URL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			p := expfmt.NewTextParser(model.UTF8Validation)
			fams, err := p.TextToMetricFamilies(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			var total float64
			for _, m := range fams["ccproxy_requests_total"].GetMetric() {
				total += m.GetCounter().GetValue()
			}
			if total != 6 {
				t.Fatalf("ccproxy_requests_total = %v", total)
			}
			for _, name := range []string{"ccproxy_request_duration_seconds", "ccproxy_upstream_ttfb_seconds", "ccproxy_stream_ttft_seconds", "ccproxy_upstream_connections"} {
				if fams[name] == nil {
					t.Errorf("missing family %s", name)
				}
			}
			// JSON endpoint.
			jr, err := http.Get(r.URL + "/v1/metrics")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(jr.Body)
			jr.Body.Close()
			if !strings.Contains(string(b), `"engine": "`+eng+`"`) && !strings.Contains(string(b), `"engine":"`+eng+`"`) {
				t.Fatalf("/v1/metrics: %s", b[:min(len(b), 300)])
			}
		})
	}
}
