package metrics

import (
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric descriptors of the ccproxy collector.
var (
	descBuildInfo = prometheus.NewDesc("ccproxy_build_info",
		"ccproxy version and upstream engine; always 1.", []string{"version", "engine"}, nil)
	descStartTime = prometheus.NewDesc("ccproxy_start_time_seconds",
		"Unix time at which ccproxy's metrics started.", nil, nil)
	descUptime = prometheus.NewDesc("ccproxy_uptime_seconds",
		"Seconds since ccproxy's metrics started.", nil, nil)
	descSetting = prometheus.NewDesc("ccproxy_setting",
		"Numeric engine and proxy settings (durations in seconds, booleans 0/1).", []string{"setting"}, nil)
	descSettingInfo = prometheus.NewDesc("ccproxy_setting_info",
		"String engine and proxy settings; always 1.", []string{"setting", "value"}, nil)
	descRequests = prometheus.NewDesc("ccproxy_requests_total",
		"Finished client requests.", []string{"route", "code", "requested_model", "model", "stream"}, nil)
	descInFlight = prometheus.NewDesc("ccproxy_requests_in_flight",
		"Client requests being served.", nil, nil)
	descOpenStreams = prometheus.NewDesc("ccproxy_open_streams",
		"Client SSE streams currently open.", nil, nil)
	descBuffered = prometheus.NewDesc("ccproxy_buffered_request_bytes",
		"Request-body bytes held against MAX_BUFFERED_BYTES.", nil, nil)
	descBufferWaits = prometheus.NewDesc("ccproxy_buffer_waits_total",
		"Waits for a share of MAX_BUFFERED_BYTES (a request found it spent).", nil, nil)
	descBufferPool = prometheus.NewDesc("ccproxy_buffer_pool_bytes",
		"Large request buffers kept outside the Go heap, by state: in_use, idle (resident, for reuse), released (returned to the OS).", []string{"state"}, nil)
	descErrors = prometheus.NewDesc("ccproxy_errors_total",
		"Error responses by Anthropic error type.", []string{"type"}, nil)
	descDuration = prometheus.NewDesc("ccproxy_request_duration_seconds",
		"Total time to serve a client request.", []string{"route"}, nil)
	descTTFB = prometheus.NewDesc("ccproxy_upstream_ttfb_seconds",
		"Time from sending the upstream request to its response head.", nil, nil)
	descUpstreamDuration = prometheus.NewDesc("ccproxy_upstream_duration_seconds",
		"Time from sending the upstream request to the end of its body.", nil, nil)
	descTTFT = prometheus.NewDesc("ccproxy_stream_ttft_seconds",
		"Time to the first content token on a stream.", nil, nil)
	descOverhead = prometheus.NewDesc("ccproxy_proxy_overhead_seconds",
		"Request time spent in ccproxy itself: total minus upstream time.", nil, nil)
	descRetries = prometheus.NewDesc("ccproxy_upstream_retries_total",
		"Upstream retries by cause.", []string{"cause"}, nil)
	descRetried = prometheus.NewDesc("ccproxy_requests_retried_total",
		"Client requests that needed at least one upstream retry.", nil, nil)
	descBreaker = prometheus.NewDesc("ccproxy_circuit_breaker_state",
		"Circuit-breaker state per upstream: 1 for the current state, else 0.", []string{"upstream", "state"}, nil)
	descModelBreakers = prometheus.NewDesc("ccproxy_model_circuit_breakers",
		"Upstream models' circuit breakers by state (models are not labels: their names may be client-chosen).", []string{"state"}, nil)
	descTokens = prometheus.NewDesc("ccproxy_tokens_total",
		"Tokens by kind (input, output, cached) and resolved model.", []string{"kind", "model"}, nil)
	descClientBytes = prometheus.NewDesc("ccproxy_client_bytes_total",
		"Client body bytes: in = request bodies, out = responses.", []string{"direction"}, nil)
	descUpstreamBytes = prometheus.NewDesc("ccproxy_upstream_body_bytes_total",
		"Upstream response body bytes by content coding, on the wire and decoded.", []string{"encoding", "stage"}, nil)
	descUpstreamResponses = prometheus.NewDesc("ccproxy_upstream_responses_total",
		"Upstream response bodies by content coding.", []string{"encoding"}, nil)
	descCompression = prometheus.NewDesc("ccproxy_upstream_compression_ratio",
		"Decoded over wire bytes of upstream bodies by content coding.", []string{"encoding"}, nil)
	descStopReasons = prometheus.NewDesc("ccproxy_stop_reasons_total",
		"Responses by Anthropic stop_reason.", []string{"reason"}, nil)
	descPoolConns = prometheus.NewDesc("ccproxy_upstream_connections",
		"Upstream connections by state (open = idle + in_use).", []string{"state"}, nil)
	descPoolCreated = prometheus.NewDesc("ccproxy_upstream_connections_created_total",
		"Upstream connections dialed.", nil, nil)
	descPoolReused = prometheus.NewDesc("ccproxy_upstream_connections_reused_total",
		"Upstream requests served on an already open connection.", nil, nil)
	descPoolWaits = prometheus.NewDesc("ccproxy_upstream_pool_waits_total",
		"Upstream requests that waited for a free connection.", nil, nil)
)

// collector exposes Metrics to a Prometheus registry. Its metric set
// depends on configuration (settings, pool), so it is an unchecked
// collector: Describe sends nothing.
type collector struct{ m *Metrics }

func (c collector) Describe(chan<- *prometheus.Desc) {}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	counter := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, lv...)
	}
	hist := func(d *prometheus.Desc, h *histogram, lv ...string) {
		buckets, count, sum := h.promBuckets()
		ch <- prometheus.MustNewConstHistogram(d, count, sum, buckets, lv...)
	}

	gauge(descBuildInfo, 1, m.info.Version, m.info.Engine)
	gauge(descStartTime, float64(m.started.UnixNano())/1e9)
	gauge(descUptime, time.Since(m.started).Seconds())
	for k, v := range m.info.Settings {
		if f, ok := settingValue(v); ok {
			gauge(descSetting, f, k)
		} else if s, ok := v.(string); ok {
			gauge(descSettingInfo, 1, k, s)
		}
	}

	for _, v := range m.requests.values() {
		counter(descRequests, float64(v.count),
			routeNames[v.key.route], statusName(int(v.key.status)),
			m.models.names[v.key.requested], m.models.names[v.key.resolved],
			strconv.FormatBool(v.key.stream))
	}
	gauge(descInFlight, float64(m.inFlight.Load()))
	gauge(descOpenStreams, float64(m.openStreams.Load()))
	gauge(descBuffered, float64(m.buffered.Load()))
	counter(descBufferWaits, float64(m.bufferWaits.Load()))
	if b, ok := m.bufferPoolStats(); ok {
		gauge(descBufferPool, float64(b.InUse), "in_use")
		gauge(descBufferPool, float64(b.Idle), "idle")
		gauge(descBufferPool, float64(b.Released), "released")
	}
	for i := range m.errors {
		counter(descErrors, float64(m.errors[i].Load()), errorTypeNames[i])
	}

	for i, h := range m.total {
		hist(descDuration, h, routeNames[i])
	}
	hist(descTTFB, m.upstreamHeaders)
	hist(descUpstreamDuration, m.upstreamTotal)
	hist(descTTFT, m.ttft)
	hist(descOverhead, m.overhead)

	for i := range m.retries {
		counter(descRetries, float64(m.retries[i].Load()), retryCauseNames[i])
	}
	counter(descRetried, float64(m.retried.Load()))

	breakers := m.breakerStates()
	names := make([]string, 0, len(breakers))
	for u := range breakers {
		names = append(names, u)
	}
	sort.Strings(names)
	for _, u := range names {
		for _, st := range breakerStateNames {
			v := 0.0
			if breakers[u] == st {
				v = 1
			}
			gauge(descBreaker, v, u, st)
		}
	}

	if mb := m.modelBreakerStates(); mb != nil {
		var n [len(breakerStateNames)]int
		for _, st := range mb {
			for i, name := range breakerStateNames {
				if st == name {
					n[i]++
				}
			}
		}
		for i, name := range breakerStateNames {
			gauge(descModelBreakers, float64(n[i]), name)
		}
	}

	for i := range m.tokens {
		for k := range numTokenKinds {
			if v := m.tokens[i][k].Load(); v > 0 {
				counter(descTokens, float64(v), tokenKindNames[k], m.models.names[i])
			}
		}
	}
	counter(descClientBytes, float64(m.clientIn.Load()), "in")
	counter(descClientBytes, float64(m.clientOut.Load()), "out")
	for i := range m.upstreamBody {
		b := &m.upstreamBody[i]
		n := b.responses.Load()
		if n == 0 {
			continue
		}
		e := EncodingStats{WireBytes: b.wire.Load(), DecodedBytes: b.decoded.Load()}
		counter(descUpstreamResponses, float64(n), encodingNames[i])
		counter(descUpstreamBytes, float64(e.WireBytes), encodingNames[i], "wire")
		counter(descUpstreamBytes, float64(e.DecodedBytes), encodingNames[i], "decoded")
		gauge(descCompression, ratio(e), encodingNames[i])
	}
	for i := range m.stopReasons {
		if v := m.stopReasons[i].Load(); v > 0 {
			counter(descStopReasons, float64(v), stopReasonNames[i])
		}
	}

	if p, ok := m.pool(); ok {
		gauge(descPoolConns, float64(p.Open), "open")
		gauge(descPoolConns, float64(p.Idle), "idle")
		gauge(descPoolConns, float64(p.InUse), "in_use")
		counter(descPoolCreated, float64(p.Created))
		counter(descPoolReused, float64(p.Reused))
		counter(descPoolWaits, float64(p.Waits))
	}
}

// settingValue converts numeric, boolean and duration settings to a float.
func settingValue(v any) (float64, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case time.Duration:
		return x.Seconds(), true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// Registry returns a new private Prometheus registry holding the ccproxy
// collector plus the Go runtime and process collectors.
func (m *Metrics) Registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collector{m},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// PrometheusHandler serves the Prometheus text exposition (GET /metrics)
// from a private registry (see Registry).
func (m *Metrics) PrometheusHandler() http.Handler {
	return promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{})
}
