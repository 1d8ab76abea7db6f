package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/internal/sse"
	"github.com/ccproxy/ccproxy/proxy/toanthropic"
)

// maxEventBytes bounds one upstream SSE event.
const maxEventBytes = 8 << 20

// startDelay is how long message_start may wait for the upstream's first
// event so that both leave in one write: upstreams usually send their first
// chunk with, or right after, the response head. A slower upstream gets
// message_start on its own once the delay is over.
const startDelay = time.Millisecond

// lazyDeadline moves a connection's deadline as rarely as it can: setting
// one costs a runtime timer update, and a stream writes, or a body is
// read, many times within a timeout.
type lazyDeadline struct{ at time.Time }

// advance moves the deadline to ahead from now when less than min of it
// is left, and then returns it and true.
func (l *lazyDeadline) advance(min, ahead time.Duration) (time.Time, bool) {
	now := time.Now()
	if l.at.Sub(now) >= min {
		return l.at, false
	}
	l.at = now.Add(ahead)
	return l.at, true
}

// streamWriter serialises writes to a streaming client: the main loop and
// the ping timer both write, each write is one complete batch of events,
// followed by one flush (but for the last batch, see end).
type streamWriter struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	flusher  http.Flusher
	timeout  time.Duration
	deadline lazyDeadline // the client connection's write deadline
	h2       bool         // the client speaks HTTP/2 (see writeLocked)
	mu       sync.Mutex
	closed   bool
	err      error
	written  int64
	pingBuf  []byte
	ping     *time.Timer
	interval time.Duration
	// start is message_start until it has been written: the next write
	// sends it first, or the timer after startDelay. It lives in startBuf
	// (the timer may send it while the stream loop fills its own buffer).
	start    []byte
	startBuf [512]byte
	// lastWrite is when the client was last written to: a timer firing
	// that raced with a write finds it recent and sends no ping.
	lastWrite time.Time
}

// write sends b and flushes. After the first failure (client gone) it
// does nothing and returns that error.
func (s *streamWriter) write(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeLocked(b, true)
}

// end writes the stream's last events and closes s, so that nothing (no
// ping) can follow them. Unflushed, they leave with the response's end
// (net/http's chunked terminator, or a whole response with its length) in
// one write when the handler returns, which must then follow without
// waiting for anything.
func (s *streamWriter) end(b []byte, flush bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.writeLocked(b, flush)
	s.closeLocked()
	return err
}

func (s *streamWriter) writeLocked(b []byte, flush bool) error {
	if s.err != nil || s.closed {
		return s.err
	}
	if s.timeout > 0 {
		// Each write has at least 31/32 of the timeout.
		if d, ok := s.deadline.advance(s.timeout-s.timeout/32, s.timeout); ok {
			s.rc.SetWriteDeadline(d)
		}
	}
	var n int
	var err error
	if s.start != nil {
		n, err = s.w.Write(s.start)
		s.written += int64(n)
		s.start = nil
	}
	if err == nil && len(b) > 0 {
		n, err = s.w.Write(b)
		s.written += int64(n)
	}
	s.lastWrite = time.Now()
	if err == nil && flush {
		if s.flusher != nil {
			s.flusher.Flush()
		} else {
			err = s.rc.Flush()
		}
	}
	if s.h2 && s.timeout > 0 {
		// On HTTP/2 a write deadline resets the stream when it passes,
		// written to or not: left armed, it would cut a stream whose
		// upstream is silent for longer (between pings, or on passthrough,
		// which sends none). It bounds the write just done, then goes.
		s.rc.SetWriteDeadline(time.Time{})
		s.deadline = lazyDeadline{}
	}
	s.err = err
	return err
}

// onPing runs on the timer's goroutine: startDelay after the stream began
// (message_start, if still unsent, leaves alone), then whenever the
// upstream was silent for a whole interval (a ping). A firing that raced
// with a write (the loop re-arms the timer as events arrive) sends nothing.
func (s *streamWriter) onPing() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.err != nil {
		return
	}
	var b []byte
	if s.start == nil {
		if since := time.Since(s.lastWrite); since < s.interval/2 {
			s.ping.Reset(s.interval - since)
			return
		}
		s.pingBuf = toanthropic.Ping(s.pingBuf[:0])
		b = s.pingBuf
	}
	if s.writeLocked(b, true) == nil {
		s.ping.Reset(s.interval)
	}
}

// close stops pings; no write happens after it returns.
func (s *streamWriter) close() {
	s.mu.Lock()
	s.closeLocked()
	s.mu.Unlock()
}

func (s *streamWriter) closeLocked() {
	s.closed = true
	s.ping.Stop()
}

// streamMessages turns the upstream's chat.completion.chunk stream into
// Anthropic's event stream. Each upstream event is translated as soon as
// it arrives; the events of one read (one or several upstream events that
// arrived together) leave in one write and one flush, never waiting for
// more; message_start joins the first batch if it comes within startDelay,
// and the last batch may leave with the response's end (see end).
func (h *Handler) streamMessages(ctx context.Context, cancel context.CancelFunc, w http.ResponseWriter, rs *reqState, resp *engine.Response, cfg *toanthropic.Config) {
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	h.setDate(hd)
	// Headers leave with message_start: the overhead they report is the
	// part spent before the first byte.
	setOverhead(hd, rs.upstreamStart+time.Since(rs.start)-rs.headAt)
	w.WriteHeader(http.StatusOK)
	if h.metrics != nil {
		h.metrics.StreamOpened()
		defer h.metrics.StreamClosed()
	}

	sw := &streamWriter{w: w, rc: http.NewResponseController(w), timeout: h.cfg.DownstreamWriteTimeout, interval: h.cfg.PingInterval, h2: rs.h2}
	sw.flusher, _ = w.(http.Flusher)
	st := h.getStream(cfg)
	defer h.putStream(st)
	sw.start = st.Start(sw.startBuf[:0])
	// The outgoing events' buffer is taken for each batch and given back
	// once it is written (the writer copies): a stream waiting for the
	// upstream holds none.
	var (
		ob  *[]byte
		out []byte
	)
	sw.mu.Lock() // onPing must see sw.ping set, however short the delay
	sw.ping = time.AfterFunc(startDelay, sw.onPing)
	sw.mu.Unlock()
	defer sw.close()
	var werr error

	body := &countingReader{r: resp.Body}
	var src io.Reader = body
	if ct := resp.Header.Get("Content-Type"); strings.Contains(ct, "json") {
		// The upstream ignored stream:true and sent one chat.completion.
		data, rerr := readAllInto(nil, body, maxUnaryResponse)
		if rerr != nil {
			src = errReader{rerr}
		} else {
			src = completionAsStream(data)
		}
	}
	rd := h.getReader(src)
	defer h.putReader(rd)
	var err error
	first, drained := true, false
	for werr == nil && rd.Next() {
		sw.ping.Reset(sw.interval)
		// Translate this event and any others that arrived with it (no
		// read, no wait), then send them in one write and one flush.
		ob = h.getBuf(0)
		out = (*ob)[:0]
		for {
			out, err = st.Event(out, rd.Data())
			if err != nil || st.Done() || !rd.NextBuffered() {
				break
			}
		}
		// The first read always writes: message_start, if still pending,
		// leaves now even when these events produced nothing (a role-only
		// chunk), since the timer was just pushed back to the ping interval.
		// The last events end the writer (no ping after message_stop). When
		// the upstream body has ended with them and no request log line is
		// written on the way out, they are not flushed but leave with the
		// response's end.
		switch {
		case st.Done():
			if err != nil || st.UnknownFinish() {
				// An error event made of upstream text (never a
				// successful stream's events): no key may leave in it.
				out = h.secret.scrub(out)
			}
			drained = err == nil && rd.SourceEOF()
			werr = sw.end(out, !drained || !h.quietEnd)
		case len(out) > 0 || first:
			werr = sw.write(out)
		}
		h.putBuf(ob, out)
		first = false
		if rs.ttft == 0 && st.ContentStarted() {
			rs.ttft = time.Since(rs.start)
		}
		if err != nil || st.Done() {
			break
		}
	}
	rs.upstreamDone = time.Since(rs.start)
	if err == nil && !st.Done() {
		err = rd.Err()
	}
	if werr != nil {
		rs.clientGone = true
	}
	// Classify before draining: a drain that times out cancels ctx.
	if err != nil && ctx.Err() != nil {
		switch {
		case errors.Is(context.Cause(ctx), errStreamTooLong):
			err = errStreamTooLong
		case h.stopCtx.Err() != nil:
			err = errShuttingDown
		default:
			rs.clientGone = true
		}
	}
	if !st.Done() {
		ob = h.getBuf(0)
		out = st.Finish((*ob)[:0], err)
		if err != nil || st.UnknownFinish() {
			out = h.secret.scrub(out) // as above
		}
		sw.end(out, true)
		h.putBuf(ob, out)
	} else if werr == nil && !drained {
		// The Anthropic stream is complete (normally, or after an error
		// object the upstream sent): read the upstream body to its end so
		// the engine can pool the connection.
		drainStream(rd, cancel)
		// The client's response ends only now: the wait for the
		// upstream's last bytes ("data: [DONE]") is the upstream's time,
		// not ccproxy's overhead.
		rs.upstreamDone = time.Since(rs.start)
	}
	rs.noteBodyBytes(resp.Body, body.n)
	rs.stopReason = st.StopReason()
	u := st.Usage()
	rs.inTok, rs.outTok, rs.cTok = u.InputTokens, u.OutputTokens, u.CacheReadInputTokens
	sw.close() // orders the timer's last write before this read
	rs.bytesOut = sw.written
	if rs.clientGone {
		rs.status = 499
	}
	if err == nil && st.UnknownFinish() && !rs.clientGone {
		// The client got an error event for it (see toanthropic).
		rs.errType = errAPI
		h.log.Warn().Str("request_id", rs.id).Str("finish_reason", h.logText(st.FinishReason())).Msg("upstream ended with an unknown finish_reason")
	}
	if n := st.DroppedSignatures(); n > 0 {
		// The next request of this conversation will be refused by Gemini
		// ("missing a thought_signature"); say why here.
		h.log.Warn().Str("request_id", rs.id).Int("dropped", n).Msg("Gemini thought signatures arrived after their tool call's block had started and could not be passed on")
	}
	if err != nil && !rs.clientGone {
		// ccproxy's own end of a stream is recorded with the type its
		// error event carried, and not blamed on the upstream.
		var own *toanthropic.Error
		if errors.As(err, &own) {
			rs.errType = own.Type
			h.log.Warn().Str("request_id", rs.id).Str("reason", own.Message).Msg("stream ended by ccproxy")
		} else {
			rs.errType = errAPI
			h.log.Warn().Str("request_id", rs.id).Str("error", h.logText(err.Error())).Msg("upstream stream failed")
		}
	}
}

// drainWait bounds how long a finished stream waits for the end of the
// upstream body.
const drainWait = 50 * time.Millisecond

// drainStream reads what is left of a finished upstream stream (the
// chunked terminator after [DONE]) so the engine may pool the connection:
// a body closed before EOF costs a new connection next time. An upstream
// that keeps the body open is cut after drainWait.
func drainStream(rd *sse.Reader, cancel context.CancelFunc) {
	t := time.AfterFunc(drainWait, cancel)
	for i := 0; i < 8 && rd.Next(); i++ {
	}
	t.Stop()
}

// errReader fails every Read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// countingReader counts the (decoded) upstream body bytes.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// getStream returns a pooled state machine reset for cfg.
func (h *Handler) getStream(cfg *toanthropic.Config) *toanthropic.Stream {
	if st, ok := h.streams.Get().(*toanthropic.Stream); ok {
		st.Reset(*cfg)
		return st
	}
	return toanthropic.NewStream(*cfg)
}

func (h *Handler) putStream(st *toanthropic.Stream) { h.streams.Put(st) }

func (h *Handler) getReader(body io.Reader) *sse.Reader {
	if rd, ok := h.readers.Get().(*sse.Reader); ok {
		rd.Reset(body)
		return rd
	}
	return sse.NewReader(body, maxEventBytes)
}

func (h *Handler) putReader(rd *sse.Reader) {
	rd.Reset(nil)
	h.readers.Put(rd)
}
