package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func scrapeProm(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.PrometheusHandler())
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("status %d, content-type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return fams
}

// find returns the metric of family name whose labels include all of lv
// (name=value pairs).
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, lv ...string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("family %s missing", name)
	}
next:
	for _, mt := range f.Metric {
		labels := map[string]string{}
		for _, l := range mt.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(lv); i += 2 {
			if labels[lv[i]] != lv[i+1] {
				continue next
			}
		}
		return mt
	}
	t.Fatalf("%s%v not found", name, lv)
	return nil
}

func TestPrometheusExposition(t *testing.T) {
	m := New(Info{
		Version: "1.2.3", Engine: "fasthttp", Models: testModels, Pool: testPool,
		Settings: map[string]any{"http2": false, "max_conns_per_host": 500, "dial_timeout": 10 * time.Second, "protocol": "HTTP/1.1"},
	})
	observeFixture(m)
	fams := scrapeProm(t, m)

	counter := func(name string, want float64, lv ...string) {
		t.Helper()
		if got := find(t, fams, name, lv...).GetCounter().GetValue(); got != want {
			t.Errorf("%s%v = %v, want %v", name, lv, got, want)
		}
	}
	gauge := func(name string, want float64, lv ...string) {
		t.Helper()
		if got := find(t, fams, name, lv...).GetGauge().GetValue(); got != want {
			t.Errorf("%s%v = %v, want %v", name, lv, got, want)
		}
	}

	gauge("ccproxy_build_info", 1, "version", "1.2.3", "engine", "fasthttp")
	gauge("ccproxy_setting", 0, "setting", "http2")
	gauge("ccproxy_setting", 500, "setting", "max_conns_per_host")
	gauge("ccproxy_setting", 10, "setting", "dial_timeout")
	gauge("ccproxy_setting_info", 1, "setting", "protocol", "value", "HTTP/1.1")
	if up := find(t, fams, "ccproxy_uptime_seconds").GetGauge().GetValue(); up <= 0 {
		t.Errorf("uptime = %v", up)
	}

	counter("ccproxy_requests_total", 100, "route", "messages", "code", "200", "requested_model", "sonnet", "model", "gpt-5", "stream", "true")
	counter("ccproxy_requests_total", 1, "route", "messages", "code", "429", "requested_model", "other", "model", "other", "stream", "false")
	counter("ccproxy_requests_total", 1, "route", "other", "code", "other", "requested_model", "none", "model", "none")
	if n := len(fams["ccproxy_requests_total"].Metric); n != 5 {
		t.Errorf("ccproxy_requests_total has %d series, want 5", n)
	}
	gauge("ccproxy_requests_in_flight", 2)
	gauge("ccproxy_open_streams", 1)
	gauge("ccproxy_buffered_request_bytes", 64<<10)
	counter("ccproxy_buffer_waits_total", 1)
	counter("ccproxy_errors_total", 1, "type", "rate_limit_error")
	counter("ccproxy_errors_total", 0, "type", "overloaded_error")
	counter("ccproxy_upstream_retries_total", 2, "cause", "status_429")
	counter("ccproxy_upstream_retries_total", 1, "cause", "other")
	counter("ccproxy_requests_retried_total", 1)
	gauge("ccproxy_circuit_breaker_state", 1, "upstream", "openai", "state", "half_open")
	gauge("ccproxy_circuit_breaker_state", 0, "upstream", "openai", "state", "open")
	counter("ccproxy_tokens_total", 10000, "kind", "input", "model", "gpt-5")
	counter("ccproxy_tokens_total", 5000, "kind", "cached", "model", "gpt-5")
	counter("ccproxy_tokens_total", 3, "kind", "output", "model", "qwen3-coder")
	counter("ccproxy_client_bytes_total", 100010, "direction", "in")
	counter("ccproxy_upstream_body_bytes_total", 25000, "encoding", "gzip", "stage", "wire")
	counter("ccproxy_upstream_body_bytes_total", 100000, "encoding", "gzip", "stage", "decoded")
	gauge("ccproxy_upstream_compression_ratio", 4, "encoding", "gzip")
	counter("ccproxy_stop_reasons_total", 100, "reason", "end_turn")
	gauge("ccproxy_upstream_connections", 7, "state", "open")
	gauge("ccproxy_upstream_connections", 4, "state", "in_use")
	counter("ccproxy_upstream_connections_created_total", 9)
	counter("ccproxy_upstream_connections_reused_total", 120)
	counter("ccproxy_upstream_pool_waits_total", 2)

	dur := find(t, fams, "ccproxy_request_duration_seconds", "route", "messages").GetHistogram()
	if dur.GetSampleCount() != 101 {
		t.Errorf("duration count = %d", dur.GetSampleCount())
	}
	// messages: 5 ms and 3..102 ms → sum 5 + (3+102)*100/2 ms.
	if want := 0.005 + 5.25; dur.GetSampleSum() < want-1e-9 || dur.GetSampleSum() > want+1e-9 {
		t.Errorf("duration sum = %v, want %v", dur.GetSampleSum(), want)
	}
	for _, b := range dur.Bucket {
		var want uint64
		switch b.GetUpperBound() {
		case 0.005:
			want = 4 // 3, 4, 5 ms and the 429's 5 ms
		case 0.05:
			want = 49 // 3..50 and 5
		case 0.1:
			want = 99 // 3..100 and 5
		case 0.25:
			want = 101
		default:
			continue
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("duration bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if c := find(t, fams, "ccproxy_upstream_ttfb_seconds").GetHistogram().GetSampleCount(); c != 101 {
		t.Errorf("ttfb count = %d", c)
	}
	if c := find(t, fams, "ccproxy_stream_ttft_seconds").GetHistogram().GetSampleCount(); c != 100 {
		t.Errorf("ttft count = %d", c)
	}
	over := find(t, fams, "ccproxy_proxy_overhead_seconds").GetHistogram()
	if over.GetSampleCount() != 101 || over.GetSampleSum() < 0.205-1e-9 || over.GetSampleSum() > 0.205+1e-9 {
		t.Errorf("overhead count/sum = %d/%v", over.GetSampleCount(), over.GetSampleSum())
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing (go/process collectors)", name)
		}
	}
}

func TestPrometheusPoolAbsent(t *testing.T) {
	fams := scrapeProm(t, New(Info{}))
	for _, name := range []string{"ccproxy_upstream_connections", "ccproxy_upstream_connections_created_total", "ccproxy_upstream_pool_waits_total"} {
		if _, ok := fams[name]; ok {
			t.Errorf("%s present without Info.Pool", name)
		}
	}
	if _, ok := fams["ccproxy_requests_in_flight"]; !ok {
		t.Error("ccproxy_requests_in_flight missing")
	}
}
