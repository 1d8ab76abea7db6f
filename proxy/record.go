package proxy

import (
	"crypto/rand"
	"encoding/base32"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/proxy/metrics"
)

// reqState collects what one request did, for its log line and metrics.
type reqState struct {
	id      string
	route   string
	start   time.Time
	status  int
	errType string

	requested, resolved string
	stream              bool
	stopReason          string
	reserved            int64 // bytes of the body budget held (see reserve)
	upstreamID          string
	at                  attempt
	upstreamDone        time.Duration // from start until the upstream body ended
	upstreamStart       time.Duration // from start until the upstream request was sent
	headAt              time.Duration // from start until the upstream response head (after retries)
	ttft                time.Duration
	inTok, outTok, cTok int
	bytesIn, bytesOut   int64
	encoding            string
	upBytes             int64 // upstream body bytes after decoding
	wireBytes           int64 // upstream body bytes as they came over the wire
	clientGone          bool
	waited              bool // the request waited in a queue (body budget, concurrency limit) before its body was read
	h2                  bool // the client speaks HTTP/2
}

// newRequestIDBase returns a random prefix so ids are unique across
// restarts; a counter makes them unique within the process.
func newRequestIDBase() string {
	var b [10]byte
	rand.Read(b[:])
	return "req_" + base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

func (h *Handler) requestID() string {
	n := h.reqSeq.Add(1)
	var buf [48]byte
	out := append(buf[:0], h.reqBase...)
	out = append(out, '_')
	out = strconv.AppendUint(out, n, 36)
	return string(out)
}

// fail writes e to the client and records it. Its message never carries
// the upstream key, whatever the upstream or an engine error said.
func (h *Handler) fail(w http.ResponseWriter, rs *reqState, e *apiError) {
	rs.status, rs.errType = e.Status, e.Type
	e.Message = h.secret.scrubString(e.Message)
	writeError(w, e)
}

// overhead is the time ccproxy itself spent: total minus the time the
// upstream spent answering (head and body).
func (rs *reqState) overhead(total time.Duration) time.Duration {
	up := rs.upstreamDone - rs.upstreamStart
	if rs.upstreamDone == 0 || up < 0 {
		up = 0
	}
	if o := total - up; o > 0 {
		return o
	}
	return 0
}

// finish writes the request's log line and feeds metrics, once per request.
func (h *Handler) finish(rs *reqState) {
	h.unreserve(rs, -1)
	if rs.route == routeHealth || rs.route == routeMetrics {
		return
	}
	total := time.Since(rs.start)
	if rs.status == 0 {
		rs.status = http.StatusOK
	}
	if h.metrics != nil {
		m := metrics.Request{
			Route: rs.route, Status: rs.status, RequestedModel: rs.requested, ResolvedModel: rs.resolved,
			Stream: rs.stream, ErrorType: rs.errType, Total: total, UpstreamHeaders: rs.at.HeadersTime,
			TTFT: rs.ttft, Retries: rs.at.Retries, InputTokens: rs.inTok, OutputTokens: rs.outTok,
			CachedTokens: rs.cTok, BytesIn: rs.bytesIn, BytesOut: rs.bytesOut, UpstreamEncoding: rs.encoding,
			StopReason: rs.stopReason, UpstreamBytes: rs.upBytes, UpstreamWireBytes: rs.wireBytes,
		}
		if rs.upstreamDone > 0 {
			m.UpstreamTotal = rs.upstreamDone - rs.upstreamStart
		}
		h.metrics.Observe(&m)
	}
	lvl := zerolog.InfoLevel
	if rs.status >= 500 {
		lvl = zerolog.WarnLevel
	}
	if e := h.log.WithLevel(lvl); e.Enabled() {
		e.Str("request_id", rs.id).Str("route", rs.route).Int("status", rs.status)
		if rs.requested != "" {
			e.Str("model", rs.requested).Str("upstream_model", rs.resolved)
		}
		e.Str("engine", h.cfg.EngineName).Bool("stream", rs.stream)
		if rs.errType != "" {
			e.Str("error_type", rs.errType)
		}
		if rs.stopReason != "" {
			e.Str("stop_reason", rs.stopReason)
		}
		if rs.inTok|rs.outTok|rs.cTok != 0 {
			e.Int("input_tokens", rs.inTok).Int("output_tokens", rs.outTok).Int("cached_tokens", rs.cTok)
		}
		if rs.ttft > 0 {
			e.Dur("ttft_ms", rs.ttft)
		}
		e.Dur("duration_ms", total).Dur("overhead_ms", rs.overhead(total))
		if rs.at.Retries > 0 {
			e.Int("retries", rs.at.Retries).Str("retry_cause", rs.at.LastCause)
		}
		if rs.upstreamID != "" {
			e.Str("upstream_request_id", rs.upstreamID)
		}
		if rs.at.Key > 0 && h.ring != nil && len(h.ring.keys) > 1 {
			e.Int("key", rs.at.Key) // the upstream key's place in OPENAI_API_KEY, never the key
		}
		if rs.clientGone {
			e.Bool("client_gone", true)
		}
		e.Msg("request")
	}
}

// noteRetry counts a retry and its cause.
func (h *Handler) noteRetry(cause string) {
	if h.metrics != nil {
		h.metrics.Retry(cause)
	}
	h.log.Debug().Str("cause", cause).Msg("retrying upstream request")
}

// noteBodyBytes records how much of the upstream body was read: decoded
// bytes, and wire bytes when the engine decoded a compressed body.
func (rs *reqState) noteBodyBytes(body io.Reader, decoded int64) {
	rs.upBytes, rs.wireBytes = decoded, decoded
	if w, ok := body.(engine.WireCounter); ok {
		rs.wireBytes = w.WireBytes()
	}
}
