package proxy

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ccproxy/ccproxy/engine"
)

// passHeaders are the client request headers forwarded on the OpenAI
// passthrough routes. Credentials are never among them: the upstream gets
// ccproxy's own key.
var passHeaders = [...]string{"Content-Type", "Accept", "Accept-Encoding", "Openai-Beta"} // canonical: they index http.Header

// jsonContentType is the Content-Type a passthrough POST without one gets
// (shared, never modified).
var jsonContentType = []string{"application/json"}

// servePassthrough forwards an OpenAI-shaped request unchanged (but for
// credentials) and streams the answer back as it arrives. A client's own
// Accept-Encoding is honoured: the compressed bytes pass through untouched.
func (h *Handler) servePassthrough(w http.ResponseWriter, r *http.Request, rs *reqState, method, url string) {
	var (
		in   *[]byte
		body []byte
	)
	if method == http.MethodPost {
		// The body is held (and counted against the body budget) until the
		// upstream has answered: retries send it again.
		if !h.reserveBody(w, r, rs, 1) {
			return
		}
		var ok bool
		in, body, ok = h.readBoundedBody(w, r, rs)
		defer func() {
			if in != nil {
				h.putBuf(in, body)
			}
		}()
		if !ok {
			return
		}
		if !gjson.ValidBytes(body) {
			h.fail(w, rs, &apiError{Status: http.StatusBadRequest, Type: errInvalidRequest, Message: "request body is not valid JSON"})
			return
		}
		res := gjson.GetManyBytes(body, "model", "stream")
		rs.requested = res[0].Str
		rs.resolved = res[0].Str
		rs.stream = res[1].Bool()
	}
	hd := make(http.Header, len(passHeaders)+1)
	for _, k := range passHeaders {
		// The client's first value, shared read-only (capacity 1: an
		// append copies): nothing is allocated per header.
		if vs := r.Header[k]; len(vs) > 0 && vs[0] != "" {
			hd[k] = vs[:1:1]
		}
	}
	if method == http.MethodPost && hd["Content-Type"] == nil {
		hd["Content-Type"] = jsonContentType
	}
	if len(h.ring.keys) > 0 {
		// The first key's, shared read-only: send copies the map when a
		// try takes another key.
		hd["Authorization"] = h.ring.keys[0].auth
	}

	ctx, cancel := h.requestContext(r.Context(), rs.stream)
	defer cancel()
	req := engine.Request{Method: method, URL: url, Header: hd, Body: body}
	rs.upstreamStart = time.Since(rs.start)
	rs.at.Model = rs.resolved
	resp, err := h.send(ctx, &req, &rs.at)
	rs.headAt = time.Since(rs.start)
	if in != nil {
		h.putBuf(in, body)
		in = nil
	}
	h.unreserve(rs, -1)
	if err != nil {
		if ae, ok := err.(*apiError); ok && ae.Upstream && ae.Raw != nil {
			// The upstream's own error, in the OpenAI shape its clients expect.
			rs.status, rs.errType = ae.RawStatus, ae.Type
			if ae.RetryAfter != "" {
				w.Header().Set("Retry-After", ae.RetryAfter)
			}
			ct := ae.RawType
			if ct == "" {
				ct = "application/json"
			}
			w.Header().Set("Content-Type", ct)
			if ae.RawEncoding != "" {
				// The client's Accept-Encoding went upstream: the body is
				// as the upstream coded it.
				w.Header().Set("Content-Encoding", ae.RawEncoding)
				w.Header().Set("Vary", "Accept-Encoding")
			}
			w.WriteHeader(ae.RawStatus)
			w.Write(ae.Raw)
			return
		}
		h.failSend(ctx, w, rs, err)
		return
	}
	defer resp.Body.Close()
	rs.upstreamID = resp.Header.Get("x-request-id")
	rs.encoding = resp.Decoded
	out := w.Header()
	for k, v := range resp.Header {
		switch k {
		case "X-Request-Id", "Set-Cookie":
			continue
		case "Content-Length":
			if resp.Decoded != "" {
				continue
			}
		}
		out[k] = v
	}
	if rs.upstreamID != "" {
		out.Set("x-upstream-request-id", rs.upstreamID)
	}
	sse := strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	if sse {
		rs.stream = true
		if h.metrics != nil {
			h.metrics.StreamOpened()
			defer h.metrics.StreamClosed()
		}
	}
	setOverhead(out, rs.upstreamStart+time.Since(rs.start)-rs.headAt)
	w.WriteHeader(resp.StatusCode)
	sw := streamWriter{w: w, rc: http.NewResponseController(w), timeout: h.cfg.DownstreamWriteTimeout, h2: rs.h2}
	sw.flusher, _ = w.(http.Flusher)
	bp := h.getBuf(0) // reads come from the engine's buffer a few KB at a time
	buf := (*bp)[:cap(*bp)]
	defer h.putBuf(bp, buf)
	var rerr error
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if rs.ttft == 0 && sse {
				rs.ttft = time.Since(rs.start)
			}
			// An event stream leaves read by read (one write and one flush
			// each); any other body is written through net/http's buffer
			// and leaves when the handler returns, in as few writes as it
			// takes. A write that can block is bounded by
			// CLIENT_WRITE_TIMEOUT: a client that stops reading is dropped.
			// The last read of a stream that ended cleanly is not flushed
			// when no request log line is written: it leaves with the
			// response's end when the handler returns. Data that came with
			// a failure is flushed: the handler aborts.
			var werr error
			if sse || sw.written+int64(n) > unblockedWrite {
				werr = sw.writeLocked(buf[:n], sse && (err != io.EOF || !h.quietEnd))
			} else {
				var m int
				m, werr = w.Write(buf[:n])
				sw.written += int64(m)
			}
			if werr != nil {
				rs.clientGone = true
				break
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				rerr = err
			}
			break
		}
	}
	rs.upstreamDone = time.Since(rs.start)
	rs.bytesOut = sw.written
	rs.noteBodyBytes(resp.Body, sw.written)
	if rerr != nil && !rs.clientGone {
		if ctx.Err() != nil && h.stopCtx.Err() == nil && r.Context().Err() != nil {
			rs.clientGone = true
		} else {
			// Headers are gone already: all that can be done is to cut
			// the response so the client sees it incomplete.
			rs.errType = errAPI
			h.log.Warn().Str("request_id", rs.id).Str("error", h.logText(rerr.Error())).Msg("upstream passthrough body failed")
			panic(http.ErrAbortHandler)
		}
	}
	if rs.clientGone {
		rs.status = 499
	}
}
