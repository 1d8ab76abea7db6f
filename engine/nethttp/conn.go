package nethttp

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// dialFunc wraps d so that every connection is counted (Created, Open) and
// every Write on it runs under a WriteTimeout deadline.
func (e *Engine) dialFunc(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		e.created.Add(1)
		e.open.Add(1)
		return &conn{Conn: nc, e: e, wt: e.cfg.WriteTimeout, born: time.Now()}, nil
	}
}

// conn counts its own Close and puts a deadline on each Write.
type conn struct {
	net.Conn
	e      *Engine
	wt     time.Duration
	closed atomic.Bool
	// born is when the connection was dialed: deadline counts from it on
	// the monotonic clock, as the runtime does with the deadline itself. A
	// wall-clock record (UnixNano) would look later than the real deadline
	// after the wall clock steps back, and writes would start with their
	// deadline already past (immediate timeouts) for as long as the step.
	born time.Time
	// deadline is the write deadline set last, as time since born. Moving
	// it costs a runtime timer update: it moves once the time left has
	// dropped by a thirty-second of wt, so each Write still has at least
	// 31/32 of it.
	deadline atomic.Int64
}

func (c *conn) Write(p []byte) (int, error) {
	now := time.Now()
	at := now.Sub(c.born)
	if time.Duration(c.deadline.Load())-at < c.wt-c.wt/32 {
		if err := c.Conn.SetWriteDeadline(now.Add(c.wt)); err != nil {
			return 0, err
		}
		c.deadline.Store(int64(at + c.wt))
	}
	return c.Conn.Write(p)
}

func (c *conn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.e.open.Add(-1)
	}
	return c.Conn.Close()
}

// copyBufs holds buffers for ReadFrom. net/http hands the request body to
// the connection's ReadFrom (bufio.Writer delegates once it is empty);
// without it io.Copy would allocate a buffer per request.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

// connBufferSize is the size of each connection's bufio reader and writer.
const connBufferSize = 4 << 10

// copyBufferSize is the size of the pooled ReadFrom buffers: large enough
// that a typical translated request (50-150 KB) leaves in one or two
// writes.
const copyBufferSize = 128 << 10

// ReadFrom copies r to the connection through Write (so WriteTimeout
// applies) using a pooled buffer.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer((*connWriter)(c), r, *bp)
}

// connWriter is conn without ReadFrom, so that io.CopyBuffer uses the buffer.
type connWriter conn

func (w *connWriter) Write(p []byte) (int, error) { return (*conn)(w).Write(p) }
