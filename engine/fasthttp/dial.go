package fasthttp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/ccproxy/ccproxy/engine"
)

// errAbandoned is the result of a connect whose connection was closed
// (its request gone) before the connect was done.
var errAbandoned = errors.New("fasthttp: connection closed while connecting")

// dial is the HostClient's Dial. fasthttp calls it inside AcquireConn with
// no way to pass the request's context, so it does not connect there: it
// returns at once a pendingConn whose connect (and TLS handshake) runs on a
// goroutine of its own, and roundTrip waits for it with await, which the
// request's context can end. The goroutine also keeps the dial's deep call
// chains (the TLS handshake above all) off the request's goroutine: the
// stack they grow would otherwise stay with it for the whole stream.
func (h *host) dial(addr string) (net.Conn, error) {
	if h.proxyErr != nil {
		return nil, fmt.Errorf("fasthttp: dial %s: %w: %w", addr, engine.ErrDial, h.proxyErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.dialTimeout)
	p := &pendingConn{ready: make(chan struct{}), cancel: cancel}
	go p.run(ctx, h, addr)
	return p, nil
}

// pendingConn is a connection being established. Until ready is closed
// only Close, await and Handshake may be called; afterwards it forwards to
// the connection (or reports the connect's error).
type pendingConn struct {
	ready  chan struct{} // closed when the connect is over
	cancel context.CancelFunc

	mu        sync.Mutex
	conn      net.Conn // set under mu before ready is closed; nil on error
	err       error    // the connect's error, set before ready is closed
	abandoned bool     // Close was called
}

// run connects and publishes the result. A connection Close abandoned
// while it was being made is closed at once.
func (p *pendingConn) run(ctx context.Context, h *host, addr string) {
	c, err := h.connect(ctx, addr)
	p.mu.Lock()
	switch {
	case p.abandoned && c != nil:
		_ = c.Close()
		c, err = nil, errAbandoned
	case p.abandoned:
		err = fmt.Errorf("%w: %w", errAbandoned, err)
	case c != nil:
		h.created.Add(1)
	}
	p.conn, p.err = c, err
	p.mu.Unlock()
	close(p.ready)
	p.cancel()
}

// await waits until the connection is made or ctx ends. On ctx's end the
// caller closes p, which cancels the connect.
func (p *pendingConn) await(ctx context.Context) error {
	select {
	case <-p.ready:
		return p.err
	default:
	}
	select {
	case <-p.ready:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("fasthttp: connecting: %w", ctx.Err())
	}
}

// Handshake waits for the connect, TLS handshake included. fasthttp takes
// a connection with this method for one that is TLS already and does not
// wrap it in a tls.Conn of its own.
func (p *pendingConn) Handshake() error {
	<-p.ready
	return p.err
}

// Close closes the connection or, while it is still being made, cancels
// the connect (whose goroutine closes anything it still gets).
func (p *pendingConn) Close() error {
	p.mu.Lock()
	c := p.conn
	p.abandoned = true
	p.mu.Unlock()
	if c == nil {
		p.cancel()
		return nil
	}
	return c.Close()
}

// The net.Conn methods below are called only once await returned nil.

func (p *pendingConn) Read(b []byte) (int, error)         { return p.conn.Read(b) }
func (p *pendingConn) Write(b []byte) (int, error)        { return p.conn.Write(b) }
func (p *pendingConn) LocalAddr() net.Addr                { return p.conn.LocalAddr() }
func (p *pendingConn) RemoteAddr() net.Addr               { return p.conn.RemoteAddr() }
func (p *pendingConn) SetDeadline(t time.Time) error      { return p.conn.SetDeadline(t) }
func (p *pendingConn) SetReadDeadline(t time.Time) error  { return p.conn.SetReadDeadline(t) }
func (p *pendingConn) SetWriteDeadline(t time.Time) error { return p.conn.SetWriteDeadline(t) }

// connect dials addr (directly or through the proxy) and, for https,
// completes the TLS handshake, until ctx ends (DialTimeout, or Close).
// Errors wrap engine.ErrDial.
func (h *host) connect(ctx context.Context, addr string) (net.Conn, error) {
	var (
		conn net.Conn
		err  error
	)
	if h.proxyDial != nil {
		// fasthttpproxy's dial takes no context: it is bounded by its own
		// timeouts (DialTimeout) and its connection closed by run when
		// the request is gone.
		conn, err = h.proxyDial(addr)
	} else {
		conn, err = h.dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("fasthttp: dial %s: %w: %w", addr, engine.ErrDial, err)
	}
	if h.isTLS {
		tc := tls.Client(conn, h.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("fasthttp: tls handshake with %s: %w: %w", addr, engine.ErrDial, err)
		}
		conn = tc
	}
	return conn, nil
}
