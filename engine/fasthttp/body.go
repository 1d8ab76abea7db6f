package fasthttp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	fh "github.com/valyala/fasthttp"

	"github.com/ccproxy/ccproxy/engine"
)

var errBodyClosed = errors.New("fasthttp: read on closed response body")

// body owns one pooled connection from the moment it is acquired until the
// response body is closed. Reads arm an idle deadline on the connection;
// cancelling ctx closes the connection so a blocked Read returns. Close
// returns the connection to the pool only after a complete, uninterrupted
// body; anything else closes it (a failed Read closes it at once).
type body[C pooledConn] struct {
	ops      connOps[C] // a copy: a pointer to roundTrip's would move it to the heap
	h        *host
	cc       C
	conn     net.Conn
	ctx      context.Context
	stop     func() bool // stops the context watcher; nil if ctx cannot end
	idle     time.Duration
	deadline time.Time // the connection's read deadline (see armIdle)

	head      engine.Response // the Response roundTrip returns, whose Body this is
	resp      *fh.Response
	pooled    *bufio.Reader // from AcquireReader, released with the body
	br        *bufio.Reader // what the body is read from: pooled, or a larger one over it (see readHead)
	stream    io.Reader
	chunked   bool // Transfer-Encoding: chunked (Read may batch buffered chunks)
	keepAlive bool

	mu       sync.Mutex // serialises Read with the release in Close
	err      error      // sticky read error
	released bool

	eof       atomic.Bool
	closed    atomic.Bool
	cancelled atomic.Bool
}

// interrupt runs when ctx ends: closing the connection unblocks any read or
// write on it.
func (b *body[C]) interrupt() {
	b.cancelled.Store(true)
	_ = b.conn.Close()
}

// armIdle makes sure the next read waits at least idle - idle/32 for a
// byte (and at most idle). Moving a deadline costs a runtime timer update
// per call; a stream reads many times a second, so the deadline is moved
// only once the time left has dropped by a thirty-second. force moves it
// in any case (once the head is read).
func (b *body[C]) armIdle(force bool) {
	now := time.Now()
	if !force && b.deadline.Sub(now) >= b.idle-b.idle/32 {
		return
	}
	b.deadline = now.Add(b.idle)
	_ = b.conn.SetReadDeadline(b.deadline)
}

// fail releases the connection after an error before the body existed.
func (b *body[C]) fail() {
	if b.stop != nil {
		b.stop()
	}
	b.ops.discard(b.h.hc, b.cc)
	b.h.releaseSlot() // after the connection is back: see acquireSlot
}

// finish releases the connection when the response has no body.
func (b *body[C]) finish(keepAlive bool) {
	stopped := b.stop == nil || b.stop()
	if keepAlive && stopped {
		b.ops.reuse(b.h.hc, b.cc)
	} else {
		b.ops.discard(b.h.hc, b.cc)
	}
	b.h.releaseSlot()
}

// Read reads the body. Errors: ctx's error when it was cancelled,
// engine.ErrIdleTimeout when no byte came for IdleReadTimeout, and
// io.ErrUnexpectedEOF when the body ends before its framing says.
func (b *body[C]) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if b.released {
		return 0, errBodyClosed
	}
	if b.eof.Load() {
		return 0, io.EOF
	}
	b.armIdle(false)
	n, err := b.stream.Read(p)
	// fasthttp's stream returns one chunk per Read. Chunks that have
	// already arrived complete are handed over in the same Read, without
	// waiting for anything: an SSE consumer can then translate the events
	// that arrived together and send them in one write. A complete last
	// chunk is read too, so the end of the body comes with its last data.
	for b.chunked && err == nil && n > 0 && n < len(p) && completeChunkBuffered(b.br) {
		var m int
		m, err = b.stream.Read(p[n:])
		n += m
		if m == 0 {
			break
		}
	}
	if err == nil {
		return n, nil
	}
	// A body delimited by the connection closing ends with io.EOF, which is
	// also what a connection closed by cancellation looks like.
	if err == io.EOF && !b.cancelled.Load() {
		b.eof.Store(true)
		return n, io.EOF
	}
	b.err = b.readError(err)
	// The connection can never be reused (Close discards it): drop it now,
	// so that an upstream whose stream timed out (IdleReadTimeout) or broke
	// sees it end at once, not only when the caller gets round to Close.
	_ = b.conn.Close()
	return n, b.err
}

func (b *body[C]) readError(err error) error {
	if b.cancelled.Load() {
		if cerr := b.ctx.Err(); cerr != nil {
			return fmt.Errorf("fasthttp: read body: %w", cerr)
		}
	}
	if b.closed.Load() {
		return errBodyClosed
	}
	// A broken chunk (truncated or malformed chunk framing) means the body
	// did not end the way its framing says. fasthttp's ErrBrokenChunk does
	// not unwrap, so it is normalised here.
	var bc fh.ErrBrokenChunk
	if errors.As(err, &bc) {
		return fmt.Errorf("fasthttp: read body: %w (%v)", io.ErrUnexpectedEOF, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("fasthttp: read body: %w", io.ErrUnexpectedEOF)
	}
	if isTimeout(err) {
		return fmt.Errorf("fasthttp: read body: %w: %w", engine.ErrIdleTimeout, err)
	}
	return fmt.Errorf("fasthttp: read body: %w", err)
}

// Close releases the response and its connection exactly once. A body that
// was not read to EOF (or whose context ended) closes the connection; it is
// never put back into the pool half-read. Close may run concurrently with a
// blocked Read, which then returns an error.
func (b *body[C]) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	stopped := b.stop == nil || b.stop()
	reuse := b.keepAlive && stopped && b.eof.Load()
	if !reuse {
		_ = b.conn.Close() // unblocks a concurrent Read
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.released = true
	b.stream = nil
	_ = b.resp.CloseBodyStream()
	b.h.hc.ReleaseReader(b.pooled)
	fh.ReleaseResponse(b.resp)
	b.resp, b.pooled, b.br = nil, nil, nil
	if reuse {
		b.ops.reuse(b.h.hc, b.cc)
	} else {
		b.ops.discard(b.h.hc, b.cc)
	}
	b.h.releaseSlot()
	return nil
}

// completeChunkBuffered reports whether br's buffer starts with a whole
// HTTP/1.1 chunk (size line, data and CRLF; for the last chunk, its empty
// trailer), so that reading it cannot block. It never reads from the
// connection.
func completeChunkBuffered(br *bufio.Reader) bool {
	buf, _ := br.Peek(br.Buffered())
	size, i := 0, 0
	for ; i < len(buf) && i < 15; i++ { // fasthttp takes at most 15 hex digits; 16 could overflow
		c := buf[i]
		switch {
		case '0' <= c && c <= '9':
			size = size<<4 | int(c-'0')
		case 'a' <= c && c <= 'f':
			size = size<<4 | int(c-'a'+10)
		case 'A' <= c && c <= 'F':
			size = size<<4 | int(c-'A'+10)
		default:
			goto sizeDone
		}
	}
sizeDone:
	if i == 0 {
		return false // not a size line
	}
	if size == 0 {
		// The last chunk without trailers ("0\r\n\r\n"): reading it ends
		// the body at once, so the data before it comes with io.EOF.
		return len(buf) >= i+4 && string(buf[i:i+4]) == "\r\n\r\n"
	}
	nl := bytes.IndexByte(buf[i:], '\n')
	if nl < 0 || buf[i+nl-1] != '\r' {
		return false
	}
	if size > len(buf) {
		return false
	}
	end := i + nl + 1 + size
	return end+2 <= len(buf) && buf[end] == '\r' && buf[end+1] == '\n'
}
