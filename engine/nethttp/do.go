package nethttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/ccproxy/ccproxy/engine"
)

// Phases of a request, for telling which timer cancelled it.
const (
	phaseHead int32 = iota + 1 // waiting for the response head
	phaseBody                  // reading the body
	phaseDone                  // body closed or at EOF
)

// call is the per-request state: the request's cancel function, one timer
// that serves as header timeout and then as idle-read timeout, and the
// response body wrapper. One allocation covers all of it.
type call struct {
	e      *Engine
	parent context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	idle   time.Duration
	hs     *hostSlots

	phase  atomic.Int32
	fired  atomic.Int32 // phase in which the timer fired, 0 if it did not
	closed atomic.Bool

	rc   io.ReadCloser
	body bodies // request body readers
}

// fire runs on the timer goroutine.
func (c *call) fire() {
	p := c.phase.Load()
	if p == phaseDone {
		return
	}
	c.fired.CompareAndSwap(0, p)
	c.cancel(errTimerFired)
}

var (
	errTimerFired = errors.New("nethttp: timer fired")
	errAborted    = errors.New("nethttp: body read aborted")
)

// smallBody is the largest request body that is copied rather than lent:
// with its head it fits the connection's write buffer, so it leaves in one
// write. Larger bodies are read in place (reqBody) and cost two writes, the
// head then the body, whatever the reader.
const smallBody = connBufferSize - 1024

// Do sends req upstream. See engine.Engine for the contract.
func (e *Engine) Do(ctx context.Context, req *engine.Request) (*engine.Response, error) {
	c := &call{e: e, parent: ctx, idle: e.cfg.IdleReadTimeout}
	rctx, cancel := context.WithCancelCause(ctx)
	c.cancel = cancel
	hreq, err := http.NewRequestWithContext(rctx, req.Method, req.URL, nil)
	if err != nil {
		cancel(nil)
		return nil, fmt.Errorf("nethttp: build request: %w", err)
	}
	switch n := len(req.Body); {
	case n > 0 && n <= smallBody:
		// A private copy in a reader net/http knows to be in memory: it
		// then writes head and body in one write (for any other reader it
		// flushes the head first, a second write per request).
		b := bytes.Clone(req.Body)
		hreq.Body = io.NopCloser(bytes.NewReader(b))
		hreq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		hreq.ContentLength = int64(n)
	case n > 0:
		c.body.init(req.Body)
		hreq.Body = &c.body.first
		hreq.GetBody = c.body.getBody
		hreq.ContentLength = int64(n)
		defer c.body.detach()
	}
	// The caller's Header is shared, never modified: a copy gets what
	// the engine adds (see engine.Engine).
	decode := len(req.Header["Accept-Encoding"]) == 0
	_, ua := req.Header["User-Agent"]
	switch {
	case decode || !ua:
		h := make(http.Header, len(req.Header)+2)
		for k, v := range req.Header {
			h[k] = v
		}
		if decode {
			h["Accept-Encoding"] = acceptEncoding
		}
		if !ua {
			h["User-Agent"] = noUserAgent
		}
		hreq.Header = h
	case req.Header != nil:
		hreq.Header = req.Header
	}
	tr := e.transport(hreq.URL)
	c.hs = e.slots(hreq.URL, tr)
	if c.hs != nil {
		if err := e.acquire(ctx, c.hs); err != nil {
			cancel(nil)
			return nil, fmt.Errorf("nethttp: %s %s: %w", req.Method, hreq.URL.Host, err)
		}
	}
	e.inflight.Add(1)
	c.phase.Store(phaseHead)
	c.timer = time.AfterFunc(e.cfg.ResponseHeaderTimeout, c.fire)
	resp, err := tr.RoundTrip(hreq)
	if err == nil && !c.timer.Stop() {
		// The header timer fired as the head arrived: the request is
		// cancelled, so the response is unusable.
		resp.Body.Close()
		resp, err = nil, context.Cause(rctx)
	}
	if err == nil && ctx.Err() != nil {
		// The caller gave up as the head arrived. Over TLS, closing the
		// connection sends close_notify first, and an upstream may answer
		// it with a head before the socket is gone: the caller asked to
		// give up, so the response is not handed over.
		resp.Body.Close()
		resp, err = nil, ctx.Err()
	}
	if err != nil {
		c.finish()
		return nil, classify(c, err)
	}
	e.heads.Add(1)
	if c.hs != nil && resp.ProtoMajor == 2 {
		c.hs.h2.Store(true)
	}
	c.rc = resp.Body
	c.phase.Store(phaseBody)
	c.timer.Reset(c.idle)

	h := resp.Header
	for _, k := range hopByHop {
		delete(h, k)
	}
	out := &engine.Response{StatusCode: resp.StatusCode, Proto: resp.Proto, Header: h, Body: c}
	// A body-less response (HEAD, 204, 304, Content-Length 0) may still name
	// a coding; there is nothing to decode and a decoder would report a
	// truncated stream.
	if decode && resp.ContentLength != 0 && req.Method != http.MethodHead &&
		resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified {
		if ce := h.Get("Content-Encoding"); ce != "" {
			if rc, name, ok := engine.NewDecoder(ce, c); ok && name != "" {
				out.Body = &decodedBody{ReadCloser: rc, raw: c}
				out.Decoded = name
				delete(h, "Content-Encoding")
				delete(h, "Content-Length")
			}
		}
	}
	return out, nil
}

// acceptEncoding is shared by all requests; net/http only reads it.
var acceptEncoding = []string{engine.AcceptEncoding}

// noUserAgent stands in for a User-Agent the caller did not set: net/http
// (HTTP/1.1 and HTTP/2 alike) sends no User-Agent for an empty one, instead
// of its default Go-http-client/1.1. Shared by all requests, only read.
var noUserAgent = []string{""}

// hopByHop are the connection-level headers removed from responses.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Te", "Trailer", "Upgrade"}

// Read reads the response body, re-arming the idle timer after each Read
// that returned data.
func (c *call) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	if err == nil {
		c.timer.Reset(c.idle)
		return n, nil
	}
	if err == io.EOF {
		if c.fired.Load() != 0 || c.parent.Err() != nil {
			// net/http can report a cancelled HTTP/1.1 body over TLS as a
			// clean EOF; never let an aborted body look complete.
			return n, c.e.bodyError(c, errAborted)
		}
		c.phase.Store(phaseDone)
		c.timer.Stop()
		return n, err
	}
	return n, c.e.bodyError(c, err)
}

// Close closes the body (an HTTP/1.1 connection read only partly is
// discarded by net/http, an HTTP/2 stream is reset), stops the timer and
// frees the request's connection slot. It is idempotent.
func (c *call) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := c.rc.Close()
	c.finish()
	return err
}

// finish releases everything the request holds.
func (c *call) finish() {
	c.phase.Store(phaseDone)
	if c.timer != nil {
		c.timer.Stop()
	}
	c.cancel(context.Canceled)
	if c.hs != nil {
		<-c.hs.sem
	}
	c.e.inflight.Add(-1)
}

// decodedBody is a decoding reader over the raw body. When the decoder
// reaches the end of the coded stream, it reads the raw body to its EOF too,
// so that net/http sees the body fully consumed and keeps the connection.
type decodedBody struct {
	io.ReadCloser
	raw io.Reader
}

// WireBytes implements engine.WireCounter.
func (d *decodedBody) WireBytes() int64 {
	if w, ok := d.ReadCloser.(engine.WireCounter); ok {
		return w.WireBytes()
	}
	return 0
}

func (d *decodedBody) Read(p []byte) (int, error) {
	n, err := d.ReadCloser.Read(p)
	if err == io.EOF {
		var b [64]byte
		for range 4 {
			if _, rerr := d.raw.Read(b[:]); rerr != nil {
				break
			}
		}
	}
	return n, err
}
