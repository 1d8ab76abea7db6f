package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/proxy/toanthropic"
	"github.com/ccproxy/ccproxy/proxy/toopenai"
)

// maxUnaryResponse bounds a non-streamed upstream answer.
const maxUnaryResponse = 64 << 20

// serveMessages handles POST /v1/messages: send, then answer. The two are
// separate calls so that the first one's frame (the body, its translation,
// the upstream request) is off the stack while the answer streams: the
// connection's goroutine then keeps an 8 KB stack for the stream's life,
// where one frame more made it 16 KB.
func (h *Handler) serveMessages(w http.ResponseWriter, r *http.Request, rs *reqState) {
	ctx, cancel, resp, cfg, stream := h.sendMessages(w, r, rs)
	if resp == nil {
		return
	}
	defer cancel()
	defer resp.Body.Close()
	if stream {
		h.streamMessages(ctx, cancel, w, rs, resp, &cfg)
		return
	}
	h.unaryMessage(w, rs, resp, &cfg)
}

// sendMessages reads and translates the request and sends it upstream. It
// returns the upstream's response, the context to cancel when done with it
// and what the answer needs; a nil response means the error has been
// answered.
func (h *Handler) sendMessages(w http.ResponseWriter, r *http.Request, rs *reqState) (
	ctx context.Context, cancel context.CancelFunc, resp *engine.Response, cfg toanthropic.Config, stream bool) {
	// Buffers live only as long as needed, so an open stream holds no
	// request-sized memory: the client's body until it is translated, the
	// translated body until the upstream has answered (retries re-send it).
	// Both count against the body budget while they are held.
	if !h.reserveBody(w, r, rs, 2) {
		return
	}
	in := h.getBuf(r.ContentLength)
	body, aerr := h.readBody(w, r, rs, (*in)[:0], 2)
	rs.bytesIn = int64(len(body))
	if aerr != nil {
		h.putBuf(in, body)
		h.fail(w, rs, aerr)
		return
	}
	out := h.getBuf(r.ContentLength) // a translation is about the size of its source
	upBody, info, err := toopenai.Translate((*out)[:0], body, &h.topts)
	rs.requested, rs.resolved, rs.stream = info.Model, info.UpstreamModel, info.Stream
	h.traceBody(rs, "client request body", body)
	// A model with fallbacks keeps the client's body (and its share of
	// the budget) until the upstream answers: a fallback model gets it
	// translated for itself.
	keepBody := err == nil && len(h.cfg.Fallbacks[info.UpstreamModel]) > 0
	if !keepBody {
		h.putBuf(in, body)
		h.unreserve(rs, rs.reserved/2)
	}
	if err != nil {
		h.putBuf(out, upBody)
		msg := err.Error()
		var re *toopenai.RequestError
		if !errors.As(err, &re) {
			msg = "invalid request: " + msg
		}
		h.fail(w, rs, &apiError{Status: http.StatusBadRequest, Type: errInvalidRequest, Message: msg})
		return
	}
	for _, d := range info.DroppedTools {
		h.log.Warn().Str("request_id", rs.id).Str("tool", h.logText(d.Name)).Str("type", h.logText(d.Type)).
			Msg("dropped a tool the upstream cannot run: a server tool (only Anthropic's API runs those) or a type ccproxy does not know")
	}

	h.traceBody(rs, "upstream request body", upBody)
	ctx, cancel = h.requestContext(r.Context(), info.Stream)
	if h.stopCtx.Err() != nil {
		// Stop came while the body arrived or was translated: nothing is
		// sent upstream (the context is cancelled already, see
		// requestContext, but the Engine contract does not say a done
		// context sends nothing), and the client is told to retry
		// elsewhere.
		cancel()
		h.putBuf(out, upBody)
		if keepBody {
			h.putBuf(in, body)
		}
		h.unreserve(rs, -1)
		h.fail(w, rs, shuttingDownError())
		return nil, nil, nil, cfg, false
	}
	// The headers are the chosen key's precomputed pair, set by send on
	// each try; the client's own credentials are never among them.
	req := engine.Request{Method: http.MethodPost, URL: h.chatURL, Body: upBody}
	rs.upstreamStart = time.Since(rs.start)
	rs.at.Header = translatedHeader(info.Stream)
	rs.at.Model = info.UpstreamModel
	resp, err = h.send(ctx, &req, &rs.at)
	if err != nil {
		resp, err = h.retryRefused(ctx, &req, rs, info.UpstreamModel, info.MaxTokens, err)
		if err != nil && keepBody {
			resp, err = h.fallback(ctx, &req, rs, body, out, err)
		}
		upBody = req.Body
	}
	if keepBody {
		h.putBuf(in, body)
	}
	rs.headAt = time.Since(rs.start)
	h.putBuf(out, upBody)
	h.unreserve(rs, -1)
	if err != nil {
		cancel()
		h.failSend(ctx, w, rs, err)
		return nil, nil, nil, cfg, false
	}
	rs.upstreamID = resp.Header.Get("x-request-id")
	rs.encoding = resp.Decoded
	cfg = toanthropic.Config{Model: info.Model, InputTokens: info.InputTokensEstimate,
		Thinking: info.Thinking, StopSequences: info.StopSequences, ToolNames: info.ToolNames}
	return ctx, cancel, resp, cfg, info.Stream
}

// requestContext derives the upstream request's context: cancelled when
// the client goes away, when Stop is called, and (streams) after
// MaxStreamDuration. Under BaseContext the request's own context already
// ends on Stop (and when the handler returns), so a unary request uses it
// as it is and a stream adds only its own cancel.
func (h *Handler) requestContext(parent context.Context, stream bool) (context.Context, context.CancelFunc) {
	underStop := parent.Value(stopScope{}) == h
	if underStop && !stream {
		return parent, func() {}
	}
	var ctx context.Context
	var cancel context.CancelFunc
	if stream && h.cfg.MaxStreamDuration > 0 {
		ctx, cancel = context.WithTimeoutCause(parent, h.cfg.MaxStreamDuration, errStreamTooLong)
	} else {
		ctx, cancel = context.WithCancel(parent)
	}
	if underStop {
		return ctx, cancel
	}
	// AfterFunc runs its function in a goroutine of its own, even when
	// Stop has already been called: a context made after Stop would still
	// be live for a moment, long enough for its request to be sent
	// upstream. So Stop is checked once registered (registering first
	// leaves no moment in which a Stop is neither seen here nor reaches
	// the context through AfterFunc), and an already stopped handler
	// returns the context cancelled.
	stop := context.AfterFunc(h.stopCtx, func() { cancel() })
	if h.stopCtx.Err() != nil {
		cancel()
	}
	return ctx, func() { stop(); cancel() }
}

var (
	// A stream cut by ccproxy ends with an error event of these types:
	// shutting down is an overload a client retries elsewhere or later.
	errStreamTooLong = &toanthropic.Error{Type: errAPI, Message: "the stream exceeded MAX_STREAM_SECONDS"}
	errShuttingDown  = &toanthropic.Error{Type: errOverloaded, Message: "ccproxy is shutting down"}
)

// failSend reports a failed send: nothing when the client is gone (it
// cannot hear it), the mapped error otherwise.
func (h *Handler) failSend(ctx context.Context, w http.ResponseWriter, rs *reqState, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		h.fail(w, rs, ae)
		return
	}
	if errors.Is(context.Cause(ctx), errStreamTooLong) {
		// MAX_STREAM_SECONDS ran out before the upstream's head: nothing
		// was sent yet, so the client gets a status, not an empty 200.
		h.fail(w, rs, &apiError{Status: http.StatusGatewayTimeout, Type: errAPI, Message: errStreamTooLong.Message + " before the upstream answered"})
		return
	}
	if h.stopCtx.Err() != nil {
		h.fail(w, rs, &apiError{Status: http.StatusServiceUnavailable, Type: errOverloaded, Message: errShuttingDown.Error(), RetryAfter: "1"})
		return
	}
	// The client went away: 499 is recorded, not sent.
	rs.clientGone = true
	rs.status, rs.errType = 499, errClientGone
}

// unaryMessage converts a complete chat.completion into an Anthropic
// message.
func (h *Handler) unaryMessage(w http.ResponseWriter, rs *reqState, resp *engine.Response, cfg *toanthropic.Config) {
	in := h.getBuf(-1)
	data, err := readAllInto((*in)[:0], resp.Body, maxUnaryResponse)
	defer h.putBuf(in, data)
	rs.upstreamDone = time.Since(rs.start)
	rs.noteBodyBytes(resp.Body, int64(len(data)))
	h.traceBody(rs, "upstream response body", data)
	if err != nil {
		h.fail(w, rs, &apiError{Status: http.StatusBadGateway, Type: errAPI, Message: "reading upstream response: " + err.Error()})
		return
	}
	out := h.getBuf(-1)
	msg, usage, stop, err := toanthropic.Message((*out)[:0], data, *cfg)
	defer func() { h.putBuf(out, msg) }()
	if err != nil {
		var ue *toanthropic.UpstreamError
		if errors.As(err, &ue) {
			if co, ok := parseContextOverflow(http.StatusOK, data); ok {
				h.fail(w, rs, co.apiError(&apiError{Upstream: true}))
				return
			}
			// An error object in a 200 answer: the status its type stands for.
			h.fail(w, rs, &apiError{Status: statusOfType(ue.Type), Type: ue.Type, Message: "upstream error: " + ue.Message})
			return
		}
		h.fail(w, rs, &apiError{Status: http.StatusBadGateway, Type: errAPI, Message: "upstream returned an invalid response: " + err.Error()})
		return
	}
	rs.stopReason = stop
	rs.inTok, rs.outTok, rs.cTok = usage.InputTokens, usage.OutputTokens, usage.CacheReadInputTokens
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	setOverhead(hd, rs.overhead(time.Since(rs.start)))
	hd.Set("Content-Length", strconv.Itoa(len(msg)))
	// A client that stops reading is dropped after CLIENT_WRITE_TIMEOUT,
	// as on a stream, when the answer is large enough for a write to block.
	if len(msg) > unblockedWrite {
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.cfg.DownstreamWriteTimeout))
	}
	n, err := w.Write(msg)
	rs.bytesOut = int64(n)
	if err != nil {
		rs.clientGone, rs.status = true, 499
	}
}

// unblockedWrite is how much of a response can be written without the
// client reading any of it: net/http's 4 KB buffer and the socket's send
// buffer (Linux starts it at 16 KB). A response that stays under it needs
// no write deadline, which costs a runtime timer update to set and another
// for net/http to clear.
const unblockedWrite = 16 << 10

// setDate sets the Date header net/http would add, from a value formatted
// once a second. net/http formats it on the response's first write, the
// deepest call under a stream's first flush: set here, it leaves a few
// hundred bytes more of margin under the 8 KB stack TestStreamStackFits8KB
// holds a stream to (measured: the test then takes 512 bytes more frame
// under GOGC=2, 256 without), and a stream does not format it.
func (h *Handler) setDate(hd http.Header) {
	now := time.Now()
	d := h.date.Load()
	if d == nil || d.sec != now.Unix() {
		d = &dateStamp{sec: now.Unix(), val: []string{now.UTC().Format(http.TimeFormat)}}
		h.date.Store(d)
	}
	hd["Date"] = d.val
}

// dateStamp is a formatted Date header and the second it names.
type dateStamp struct {
	sec int64
	val []string // shared by responses: never modified
}

// setOverhead tells the client what ccproxy itself cost: the time spent
// outside the upstream, as x-ccproxy-overhead-us and Server-Timing.
func setOverhead(hd http.Header, d time.Duration) {
	// Both values are cut from one string and held by one slice: two
	// allocations for the two headers.
	var buf [96]byte
	us := strconv.AppendInt(buf[:0], int64(d/time.Microsecond), 10)
	n := len(us)
	st := append(us, "ccproxy;desc=\"proxy overhead\";dur="...)
	st = strconv.AppendFloat(st, float64(d)/float64(time.Millisecond), 'f', 3, 64)
	all := string(st)
	vals := []string{all[:n], all[n:]}
	hd["X-Ccproxy-Overhead-Us"] = vals[0:1:1]
	hd["Server-Timing"] = vals[1:2:2]
}

// traceBody logs a body at trace level, with credentials redacted and the
// upstream key scrubbed.
func (h *Handler) traceBody(rs *reqState, what string, body []byte) {
	if e := h.log.Trace(); e.Enabled() {
		e.Str("request_id", rs.id).Str("body", redact(string(h.secret.scrub(body)))).Msg(what)
	}
}

// readAllInto reads r to EOF into dst, refusing more than limit bytes.
func readAllInto(dst []byte, r io.Reader, limit int) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst) > limit {
			return dst, errors.New("response larger than " + strconv.Itoa(limit) + " bytes")
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// readBoundedBody reads a body that recursive decoders will parse: within
// MaxRequestBytes and nested no deeper than maxJSONDepth. When ok is false
// the error has been sent. The caller releases in with putBuf.
func (h *Handler) readBoundedBody(w http.ResponseWriter, r *http.Request, rs *reqState) (in *[]byte, body []byte, ok bool) {
	in = h.getBuf(r.ContentLength)
	body, aerr := h.readBody(w, r, rs, (*in)[:0], 1)
	rs.bytesIn = int64(len(body))
	if aerr == nil {
		aerr = checkDepth(body)
	}
	if aerr != nil {
		h.fail(w, rs, aerr)
		return in, body, false
	}
	return in, body, true
}

// serveCountTokens handles POST /v1/messages/count_tokens.
func (h *Handler) serveCountTokens(w http.ResponseWriter, r *http.Request, rs *reqState) {
	if !h.reserveBody(w, r, rs, 1) {
		return
	}
	in, body, ok := h.readBoundedBody(w, r, rs)
	defer h.putBuf(in, body)
	if !ok {
		return
	}
	model := gjson.GetBytes(body, "model")
	if model.Type != gjson.String || model.Str == "" {
		h.fail(w, rs, &apiError{Status: http.StatusBadRequest, Type: errInvalidRequest, Message: "model: field required (a string)"})
		return
	}
	rs.requested = model.Str
	rs.resolved = h.cfg.Models.Resolve(model.Str)
	n, err := h.tokens.Count(body, rs.resolved)
	if err != nil {
		h.fail(w, rs, &apiError{Status: http.StatusBadRequest, Type: errInvalidRequest, Message: err.Error()})
		return
	}
	rs.inTok = n
	w.Header().Set("Content-Type", "application/json")
	setOverhead(w.Header(), time.Since(rs.start)) // no upstream: all of it is ccproxy's
	var buf [64]byte
	out := append(buf[:0], `{"input_tokens":`...)
	out = strconv.AppendInt(out, int64(n), 10)
	out = append(out, '}')
	w.Write(out)
	rs.bytesOut = int64(len(out))
}
