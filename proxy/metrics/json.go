package metrics

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Snapshot is the document served on /v1/metrics. Latencies are in
// milliseconds.
type Snapshot struct {
	Version       string         `json:"version"`
	Engine        string         `json:"engine"`
	StartedAt     time.Time      `json:"started_at"`
	UptimeSeconds float64        `json:"uptime_seconds"`
	Settings      map[string]any `json:"settings"`
	Requests      RequestStats   `json:"requests"`
	Errors        ErrorStats     `json:"errors"`
	// Latency covers every request since start; LatencyRecent only those
	// that finished in the last 5 to 6 minutes (the current minute and the
	// five before it), with percentiles within about 6%.
	Latency       LatencyStats `json:"latency_ms"`
	LatencyRecent LatencyStats `json:"latency_ms_recent"`
	Retries       RetryStats   `json:"retries"`
	// CircuitBreakers is the upstream-wide breaker's state ("upstream"),
	// which failures without an answer open.
	CircuitBreakers map[string]string `json:"circuit_breakers"`
	// ModelCircuitBreakers is the state of each upstream model's breaker
	// (opened by that model's 5xx/529 answers), by model; "(other)" is
	// the one shared by models without their own. Absent until a Handler
	// with breakers has installed it.
	ModelCircuitBreakers map[string]string `json:"model_circuit_breakers,omitempty"`
	Tokens               TokenStats        `json:"tokens"`
	Bytes                ByteStats         `json:"bytes"`
	StopReasons          map[string]int64  `json:"stop_reasons"`
	// Pool is absent when the engine reports no pool statistics.
	Pool *PoolStats `json:"pool,omitempty"`
	// BufferPool is absent until a Handler has installed it.
	BufferPool *BufferPoolStats `json:"buffer_pool,omitempty"`
}

// RequestStats counts finished requests by label, plus current gauges.
type RequestStats struct {
	Total       int64 `json:"total"`
	InFlight    int64 `json:"in_flight"`
	OpenStreams int64 `json:"open_streams"`
	// BufferedBytes are the request-body bytes held against
	// MAX_BUFFERED_BYTES now; BufferWaits counts the waits for a share of
	// it (a request waits once, or again as a body of unknown length grows;
	// some waits ended in 529).
	BufferedBytes    int64            `json:"buffered_bytes"`
	BufferWaits      int64            `json:"buffer_waits"`
	Streamed         int64            `json:"streamed"`
	ByRoute          map[string]int64 `json:"by_route"`
	ByStatus         map[string]int64 `json:"by_status"`
	ByRequestedModel map[string]int64 `json:"by_requested_model"`
	ByResolvedModel  map[string]int64 `json:"by_resolved_model"`
	Series           []RequestSeries  `json:"series"`
}

// RequestSeries is the count of one label combination.
type RequestSeries struct {
	Route          string `json:"route"`
	Status         string `json:"status"`
	RequestedModel string `json:"requested_model"`
	ResolvedModel  string `json:"resolved_model"`
	Stream         bool   `json:"stream"`
	Count          int64  `json:"count"`
}

// ErrorStats counts error responses by Anthropic error type.
type ErrorStats struct {
	Total  int64            `json:"total"`
	ByType map[string]int64 `json:"by_type"`
}

// Percentiles summarises one latency kind, in milliseconds.
type Percentiles struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// LatencyStats holds the percentiles of every latency kind. Overhead is
// total minus upstream total, per request.
type LatencyStats struct {
	Total           Percentiles            `json:"total"`
	TotalByRoute    map[string]Percentiles `json:"total_by_route"`
	UpstreamHeaders Percentiles            `json:"upstream_headers"`
	UpstreamTotal   Percentiles            `json:"upstream_total"`
	TTFT            Percentiles            `json:"ttft"`
	Overhead        Percentiles            `json:"overhead"`
}

// RetryStats counts upstream retries.
type RetryStats struct {
	// Total is the sum of Request.Retries; RequestsRetried the number of
	// requests retried at least once; ByCause the Retry calls by cause.
	Total           int64            `json:"total"`
	RequestsRetried int64            `json:"requests_retried"`
	ByCause         map[string]int64 `json:"by_cause"`
}

// TokenCounts are token sums.
type TokenCounts struct {
	Input  int64 `json:"input"`
	Output int64 `json:"output"`
	Cached int64 `json:"cached"`
}

// TokenStats sums tokens overall and by resolved model.
type TokenStats struct {
	TokenCounts
	ByModel map[string]TokenCounts `json:"by_model"`
}

// EncodingStats describes upstream bodies of one content coding. Ratio is
// decoded/wire bytes (1 for identity, 0 when nothing was on the wire).
type EncodingStats struct {
	Responses    int64   `json:"responses"`
	WireBytes    int64   `json:"wire_bytes"`
	DecodedBytes int64   `json:"decoded_bytes"`
	Ratio        float64 `json:"ratio"`
}

// ByteStats counts client and upstream body bytes.
type ByteStats struct {
	ClientIn   int64                    `json:"client_in"`
	ClientOut  int64                    `json:"client_out"`
	Upstream   map[string]EncodingStats `json:"upstream_by_encoding"`
	UpstreamIn EncodingStats            `json:"upstream_total"`
}

// PoolStats is the engine's connection pool at scrape time.
type PoolStats struct {
	Open    int   `json:"open"`
	Idle    int   `json:"idle"`
	InUse   int   `json:"in_use"`
	Created int64 `json:"created"`
	Reused  int64 `json:"reused"`
	Waits   int64 `json:"waits"`
}

// latencyStats reads every latency kind through snap.
func (m *Metrics) latencyStats(snap func(*histogram) *latencySnapshot) LatencyStats {
	var ls LatencyStats
	all := &latencySnapshot{}
	ls.TotalByRoute = map[string]Percentiles{}
	for i := range m.total {
		s := snap(m.total[i])
		if s.count > 0 {
			all.merge(s)
			ls.TotalByRoute[routeNames[i]] = percentiles(s)
		}
	}
	ls.Total = percentiles(all)
	ls.UpstreamHeaders = percentiles(snap(m.upstreamHeaders))
	ls.UpstreamTotal = percentiles(snap(m.upstreamTotal))
	ls.TTFT = percentiles(snap(m.ttft))
	ls.Overhead = percentiles(snap(m.overhead))
	return ls
}

func percentiles(s *latencySnapshot) Percentiles {
	if s.count == 0 {
		return Percentiles{}
	}
	return Percentiles{
		Count: s.count,
		Mean:  float64(s.sumNs) / float64(s.count) / 1e6,
		P50:   s.quantile(0.50) / 1e3,
		P95:   s.quantile(0.95) / 1e3,
		P99:   s.quantile(0.99) / 1e3,
		Max:   float64(s.maxNs) / 1e6,
	}
}

func ratio(e EncodingStats) float64 {
	if e.WireBytes == 0 {
		return 0
	}
	return float64(e.DecodedBytes) / float64(e.WireBytes)
}

// jsonSettings returns the settings with durations as strings and any
// value that is not a plain JSON scalar or string list formatted with %v.
func jsonSettings(in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		switch x := v.(type) {
		case time.Duration:
			v = x.String()
		case nil, string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, []string:
		default:
			v = fmt.Sprintf("%v", x)
		}
		out[k] = v
	}
	return out
}

// Snapshot returns the current figures.
func (m *Metrics) Snapshot() *Snapshot {
	now := time.Now()
	s := &Snapshot{
		Version:         m.info.Version,
		Engine:          m.info.Engine,
		StartedAt:       m.started.UTC(),
		UptimeSeconds:   now.Sub(m.started).Seconds(),
		Settings:        jsonSettings(m.info.Settings),
		CircuitBreakers: m.breakerStates(),
		StopReasons:     map[string]int64{},
	}

	rs := &s.Requests
	rs.InFlight = m.inFlight.Load()
	rs.OpenStreams = m.openStreams.Load()
	rs.BufferedBytes = m.buffered.Load()
	rs.BufferWaits = m.bufferWaits.Load()
	s.ModelCircuitBreakers = m.modelBreakerStates()
	if b, ok := m.bufferPoolStats(); ok {
		s.BufferPool = &b
	}
	rs.ByRoute = map[string]int64{}
	rs.ByStatus = map[string]int64{}
	rs.ByRequestedModel = map[string]int64{}
	rs.ByResolvedModel = map[string]int64{}
	rs.Series = []RequestSeries{}
	for _, v := range m.requests.values() {
		rt, st := routeNames[v.key.route], statusName(int(v.key.status))
		req, res := m.models.names[v.key.requested], m.models.names[v.key.resolved]
		rs.Total += v.count
		if v.key.stream {
			rs.Streamed += v.count
		}
		rs.ByRoute[rt] += v.count
		rs.ByStatus[st] += v.count
		rs.ByRequestedModel[req] += v.count
		rs.ByResolvedModel[res] += v.count
		rs.Series = append(rs.Series, RequestSeries{Route: rt, Status: st, RequestedModel: req, ResolvedModel: res, Stream: v.key.stream, Count: v.count})
	}

	s.Errors.ByType = map[string]int64{}
	for i := range m.errors {
		if c := m.errors[i].Load(); c > 0 {
			s.Errors.ByType[errorTypeNames[i]] = c
			s.Errors.Total += c
		}
	}

	s.Latency = m.latencyStats((*histogram).snapshot)
	minute := m.minute()
	s.LatencyRecent = m.latencyStats(func(h *histogram) *latencySnapshot { return h.recentSnapshot(minute) })

	s.Retries.Total = m.retriesSum.Load()
	s.Retries.RequestsRetried = m.retried.Load()
	s.Retries.ByCause = map[string]int64{}
	for i := range m.retries {
		if c := m.retries[i].Load(); c > 0 {
			s.Retries.ByCause[retryCauseNames[i]] = c
		}
	}

	s.Tokens.ByModel = map[string]TokenCounts{}
	for i := range m.tokens {
		t := TokenCounts{
			Input:  m.tokens[i][tokInput].Load(),
			Output: m.tokens[i][tokOutput].Load(),
			Cached: m.tokens[i][tokCached].Load(),
		}
		if t == (TokenCounts{}) {
			continue
		}
		s.Tokens.ByModel[m.models.names[i]] = t
		s.Tokens.Input += t.Input
		s.Tokens.Output += t.Output
		s.Tokens.Cached += t.Cached
	}

	s.Bytes.ClientIn = m.clientIn.Load()
	s.Bytes.ClientOut = m.clientOut.Load()
	s.Bytes.Upstream = map[string]EncodingStats{}
	for i := range m.upstreamBody {
		b := &m.upstreamBody[i]
		e := EncodingStats{Responses: b.responses.Load(), WireBytes: b.wire.Load(), DecodedBytes: b.decoded.Load()}
		if e.Responses == 0 {
			continue
		}
		e.Ratio = ratio(e)
		s.Bytes.Upstream[encodingNames[i]] = e
		s.Bytes.UpstreamIn.Responses += e.Responses
		s.Bytes.UpstreamIn.WireBytes += e.WireBytes
		s.Bytes.UpstreamIn.DecodedBytes += e.DecodedBytes
	}
	s.Bytes.UpstreamIn.Ratio = ratio(s.Bytes.UpstreamIn)

	for i := range m.stopReasons {
		if c := m.stopReasons[i].Load(); c > 0 {
			s.StopReasons[stopReasonNames[i]] = c
		}
	}

	if p, ok := m.pool(); ok {
		s.Pool = &PoolStats{Open: p.Open, Idle: p.Idle, InUse: p.InUse, Created: p.Created, Reused: p.Reused, Waits: p.Waits}
	}
	return s
}

// JSONHandler serves Snapshot as indented JSON (GET /v1/metrics).
func (m *Metrics) JSONHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := json.MarshalIndent(m.Snapshot(), "", "  ")
		if err != nil {
			http.Error(w, "encode metrics: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		body = append(body, '\n')
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
	})
}
