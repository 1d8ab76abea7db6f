package metrics

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccproxy/ccproxy/engine"
)

// Info describes the running proxy. It is fixed at New.
type Info struct {
	// Version is the ccproxy version string.
	Version string
	// Engine is the name of the upstream HTTP engine.
	Engine string
	// Settings holds the engine's Describe() output plus proxy settings.
	// Values are shown as-is in JSON (time.Duration as a string); numeric,
	// boolean and duration values also become ccproxy_setting gauges and
	// string values ccproxy_setting_info labels.
	Settings map[string]any
	// Models is the allowed set of model label values (from configuration).
	// Resolved models outside it are labelled "other".
	Models []string
	// Pool reads the engine's connection-pool statistics at scrape time;
	// nil, or ok=false, means pool statistics are absent.
	Pool func() (engine.PoolStats, bool)
}

// Request describes one finished request. Observe does not retain it.
type Request struct {
	// Route is "messages", "count_tokens", "chat_completions", "models" or
	// "other".
	Route string
	// Status is the HTTP status sent to the client.
	Status int
	// RequestedModel is the model the client asked for; ResolvedModel the
	// upstream model it was routed to.
	RequestedModel, ResolvedModel string
	// Stream is true for a streaming (SSE) response.
	Stream bool
	// ErrorType is the Anthropic error type returned, "" if none.
	ErrorType string
	// Total is the whole request time at the proxy, UpstreamHeaders the time
	// to the upstream response head, UpstreamTotal the time until the
	// upstream body ended, TTFT the time to the first content token on a
	// stream. Zero means not applicable.
	Total, UpstreamHeaders, UpstreamTotal, TTFT time.Duration
	// Retries is the number of upstream retries made for this request.
	Retries int
	// InputTokens, OutputTokens and CachedTokens are the usage reported.
	InputTokens, OutputTokens, CachedTokens int
	// BytesIn is the client request body size, BytesOut the client response
	// size.
	BytesIn, BytesOut int64
	// UpstreamEncoding is the content coding the upstream used ("" for
	// identity).
	UpstreamEncoding string
	// UpstreamWireBytes and UpstreamBytes are the upstream body sizes on the
	// wire and after decoding.
	UpstreamWireBytes, UpstreamBytes int64
	// StopReason is the Anthropic stop_reason, "" if none.
	StopReason string
}

// Token kinds, the inner index of Metrics.tokens.
const (
	tokInput = iota
	tokOutput
	tokCached
	numTokenKinds
)

var tokenKindNames = [numTokenKinds]string{"input", "output", "cached"}

// encodingCounters accumulates upstream bodies of one content coding.
type encodingCounters struct {
	responses atomic.Int64
	wire      atomic.Int64
	decoded   atomic.Int64
}

// Metrics records and serves ccproxy's figures. All methods are safe for
// concurrent use.
type Metrics struct {
	info    Info
	models  modelLabels
	started time.Time
	done    func()

	requests seriesSet // by route, status, requested model, resolved model, stream

	inFlight      atomic.Int64
	openStreams   atomic.Int64
	buffered      atomic.Int64 // request-body bytes held against the body budget
	bufferPool    atomic.Pointer[func() BufferPoolStats]
	modelBreakers atomic.Pointer[func() map[string]string]
	bufferWaits   atomic.Int64 // waits for a share of the body budget
	errors        [numErrorTypes]atomic.Int64
	retries       [numRetryCauses]atomic.Int64
	retriesSum    atomic.Int64 // sum of Request.Retries
	retried       atomic.Int64 // requests with Retries > 0
	stopReasons   [numStopReasons]atomic.Int64
	tokens        [][numTokenKinds]atomic.Int64 // by resolved model index
	clientIn      atomic.Int64
	clientOut     atomic.Int64
	upstreamBody  [numEncodings]encodingCounters

	total           [numRoutes]*histogram
	upstreamHeaders *histogram
	upstreamTotal   *histogram
	ttft            *histogram
	overhead        *histogram

	breakerMu sync.Mutex
	breakers  map[string]string
}

// New returns a Metrics for the given proxy description.
func New(info Info) *Metrics {
	m := &Metrics{
		info:            info,
		models:          newModelLabels(info.Models),
		started:         time.Now(),
		upstreamHeaders: newHistogram(latencyBounds),
		upstreamTotal:   newHistogram(latencyBounds),
		ttft:            newHistogram(latencyBounds),
		overhead:        newHistogram(overheadBounds),
		breakers:        make(map[string]string),
	}
	m.requests.init()
	m.tokens = make([][numTokenKinds]atomic.Int64, len(m.models.names))
	for i := range m.total {
		m.total[i] = newHistogram(latencyBounds)
	}
	m.done = m.requestDone
	return m
}

// Observe records one finished request. It takes no lock and does not
// allocate once its label combination has been seen.
func (m *Metrics) Observe(r *Request) {
	route := routeIndex(r.Route)
	res := m.models.resolved(r.ResolvedModel)
	m.requests.inc(seriesKey{
		route:     uint8(route),
		status:    uint16(statusIndex(r.Status)),
		requested: uint16(m.models.requested(r.RequestedModel)),
		resolved:  uint16(res),
		stream:    r.Stream,
	}.pack())

	if r.ErrorType != "" {
		m.errors[errorTypeIndex(r.ErrorType)].Add(1)
	}
	now := m.minute()
	if r.Total > 0 {
		m.total[route].observe(r.Total, now)
	}
	if r.UpstreamHeaders > 0 {
		m.upstreamHeaders.observe(r.UpstreamHeaders, now)
	}
	if r.UpstreamTotal > 0 {
		m.upstreamTotal.observe(r.UpstreamTotal, now)
		if r.Total >= r.UpstreamTotal {
			m.overhead.observe(r.Total-r.UpstreamTotal, now)
		}
	}
	if r.TTFT > 0 {
		m.ttft.observe(r.TTFT, now)
	}
	if r.Retries > 0 {
		m.retriesSum.Add(int64(r.Retries))
		m.retried.Add(1)
	}
	if r.StopReason != "" {
		m.stopReasons[stopReasonIndex(r.StopReason)].Add(1)
	}
	tok := &m.tokens[res]
	if r.InputTokens > 0 {
		tok[tokInput].Add(int64(r.InputTokens))
	}
	if r.OutputTokens > 0 {
		tok[tokOutput].Add(int64(r.OutputTokens))
	}
	if r.CachedTokens > 0 {
		tok[tokCached].Add(int64(r.CachedTokens))
	}
	if r.BytesIn > 0 {
		m.clientIn.Add(r.BytesIn)
	}
	if r.BytesOut > 0 {
		m.clientOut.Add(r.BytesOut)
	}
	if r.UpstreamWireBytes > 0 || r.UpstreamBytes > 0 {
		e := &m.upstreamBody[encodingIndex(r.UpstreamEncoding)]
		e.responses.Add(1)
		e.wire.Add(r.UpstreamWireBytes)
		e.decoded.Add(r.UpstreamBytes)
	}
}

// minute is the current minute since the Metrics started, on the
// monotonic clock: the recent latency window's unit.
func (m *Metrics) minute() int64 { return int64(time.Since(m.started) / time.Minute) }

// RequestStarted counts a request as in flight until the returned func is
// called (exactly once). It does not allocate.
func (m *Metrics) RequestStarted() (done func()) {
	m.inFlight.Add(1)
	return m.done
}

func (m *Metrics) requestDone() { m.inFlight.Add(-1) }

// StreamOpened counts an open client stream until StreamClosed.
func (m *Metrics) StreamOpened() { m.openStreams.Add(1) }

// StreamClosed ends a stream counted by StreamOpened.
func (m *Metrics) StreamClosed() { m.openStreams.Add(-1) }

// Buffered adds delta (negative when given back) to the request-body bytes
// held against the body budget (MAX_BUFFERED_BYTES).
func (m *Metrics) Buffered(delta int64) { m.buffered.Add(delta) }

// BufferPoolStats describes the large byte buffers (request bodies, their
// translations, unary answers) the proxy keeps outside the Go heap.
type BufferPoolStats struct {
	// InUse is the bytes of the buffers requests hold now.
	InUse int64 `json:"in_use_bytes"`
	// Idle is the bytes of the buffers kept resident for reuse.
	Idle int64 `json:"idle_bytes"`
	// Released is the bytes of idle buffers whose memory went back to the
	// operating system (reused, at the cost of page faults, before more
	// is mapped).
	Released int64 `json:"released_bytes"`
}

// SetBufferPool installs the function that reads the buffer pool's
// statistics at scrape time (the proxy's Handler calls it).
func (m *Metrics) SetBufferPool(f func() BufferPoolStats) { m.bufferPool.Store(&f) }

func (m *Metrics) bufferPoolStats() (BufferPoolStats, bool) {
	if f := m.bufferPool.Load(); f != nil {
		return (*f)(), true
	}
	return BufferPoolStats{}, false
}

// BufferWait counts a wait for a share of the body budget: a request found
// it spent (once, or again as a body of unknown length grows).
func (m *Metrics) BufferWait() { m.bufferWaits.Add(1) }

// Retry counts one upstream retry. cause is one of "status_429",
// "status_5xx", "connect", "timeout", "stale_conn", "pool_timeout"; any
// other value counts as "other".
func (m *Metrics) Retry(cause string) { m.retries[retryCauseIndex(cause)].Add(1) }

// SetBreakerState records the circuit-breaker state ("closed", "open",
// "half_open") of an upstream. upstream must come from configuration; an
// unknown state is recorded as "unknown".
func (m *Metrics) SetBreakerState(upstream, state string) {
	switch state {
	case "closed", "open", "half_open":
	default:
		state = "unknown"
	}
	m.breakerMu.Lock()
	m.breakers[upstream] = state
	m.breakerMu.Unlock()
}

// SetModelBreakers installs the function that reads the state of each
// upstream model's circuit breaker by model name at scrape time (the
// proxy's Handler calls it; it returns a new map each call).
func (m *Metrics) SetModelBreakers(f func() map[string]string) { m.modelBreakers.Store(&f) }

func (m *Metrics) modelBreakerStates() map[string]string {
	if f := m.modelBreakers.Load(); f != nil {
		return (*f)()
	}
	return nil
}

func (m *Metrics) breakerStates() map[string]string {
	m.breakerMu.Lock()
	defer m.breakerMu.Unlock()
	out := make(map[string]string, len(m.breakers))
	for k, v := range m.breakers {
		out[k] = v
	}
	return out
}

func (m *Metrics) pool() (engine.PoolStats, bool) {
	if m.info.Pool == nil {
		return engine.PoolStats{}, false
	}
	return m.info.Pool()
}
