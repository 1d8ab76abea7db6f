// Package nethttp is the net/http engine: one tuned *http.Transport (plus a
// second one for cleartext HTTP/2 when Config.H2C is set) driven through
// RoundTrip directly. It registers itself as "nethttp".
//
// What each Config timeout enforces here:
//   - DialTimeout: TCP connect (net.Dialer) and, separately, the TLS handshake
//     (Transport.TLSHandshakeTimeout).
//   - ResponseHeaderTimeout: from the moment the request has a connection
//     slot (after any PoolTimeout wait) until the response head arrives; it
//     covers dialing and writing the request too. Error wraps
//     engine.ErrHeaderTimeout.
//   - IdleReadTimeout: the gap between two successful body Reads (a timer
//     reset after each Read cancels the request when it fires). Error wraps
//     engine.ErrIdleTimeout.
//   - WriteTimeout: a write deadline set before every Write on the
//     connection, so any single write that stalls that long fails (request
//     bytes and HTTP/2 frames alike). It does not bound the total time spent
//     writing a request. Error wraps engine.ErrWriteTimeout.
//   - PoolTimeout: HTTP/1.1 requests take one of MaxConnsPerHost slots per
//     host (released when the body is closed); waiting longer than
//     PoolTimeout fails with engine.ErrPoolTimeout. Hosts seen to answer over
//     HTTP/2 skip the slots (streams are multiplexed).
package nethttp

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccproxy/ccproxy/engine"
)

// Name is the name under which the engine is registered.
const Name = "nethttp"

func init() {
	engine.Register(Name, func(cfg engine.Config) (engine.Engine, error) { return New(cfg) })
}

var (
	_ engine.Engine        = (*Engine)(nil)
	_ engine.StatsReporter = (*Engine)(nil)
	_ engine.Describer     = (*Engine)(nil)
)

// Engine is an engine.Engine backed by net/http. Safe for concurrent use.
type Engine struct {
	cfg engine.Config
	// tr serves https:// (HTTP/1.1, plus HTTP/2 via ALPN when cfg.HTTP2) and
	// http:// over HTTP/1.1.
	tr *http.Transport
	// h2c serves http:// with HTTP/2 prior knowledge when cfg.H2C; nil otherwise.
	h2c *http.Transport

	hosts sync.Map // scheme://host → *hostSlots

	open     atomic.Int64 // connections currently open
	created  atomic.Int64 // connections dialed
	waits    atomic.Int64 // requests that waited for a slot
	inflight atomic.Int64 // requests between Do and Body.Close
	heads    atomic.Int64 // responses obtained
}

// hostSlots bounds the HTTP/1.1 requests (and so connections) to one host.
type hostSlots struct {
	sem chan struct{}
	h2  atomic.Bool // the host answered over HTTP/2: no slots needed
}

// New builds the engine. cfg is passed through Defaults.
func New(cfg engine.Config) (*Engine, error) {
	cfg = cfg.Defaults()
	e := &Engine{cfg: cfg}
	e.tr = e.newTransport(false)
	if cfg.H2C {
		e.h2c = e.newTransport(true)
	}
	return e, nil
}

func (e *Engine) newTransport(h2c bool) *http.Transport {
	cfg := e.cfg
	var p http.Protocols
	if h2c {
		// Prior knowledge only: Protocols{HTTP1, UnencryptedHTTP2} would
		// silently use HTTP/1.1.
		p.SetUnencryptedHTTP2(true)
	} else {
		p.SetHTTP1(true)
		p.SetHTTP2(cfg.HTTP2)
	}
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:           e.dialFunc(dialer),
		TLSHandshakeTimeout:   cfg.DialTimeout,
		DisableCompression:    true,
		MaxIdleConns:          0, // no total cap; MaxIdleConnsPerHost bounds each host
		MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
		MaxConnsPerHost:       cfg.MaxConnsPerHost,
		IdleConnTimeout:       cfg.IdleConnTimeout,
		ExpectContinueTimeout: 0,
		// A connection keeps both buffers for its whole life, idle or not,
		// so they stay small: a large body leaves through conn.ReadFrom
		// (one write) once the head has been flushed, and bufio reads into
		// the caller's buffer directly when it is larger than its own.
		WriteBufferSize: connBufferSize,
		ReadBufferSize:  connBufferSize,
		Protocols:       &p,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: cfg.PingInterval,
			PingTimeout:     cfg.PingTimeout,
		},
	}
	if cfg.Proxy != nil {
		proxy := cfg.Proxy
		tr.Proxy = func(r *http.Request) (*url.URL, error) { return proxy(r.URL) }
	}
	if cfg.TLS != nil {
		tc := cfg.TLS.Clone()
		// The transport fills NextProtos from Protocols (h2 via ALPN).
		tc.NextProtos = nil
		tr.TLSClientConfig = tc
	}
	return tr
}

// transport picks the transport for a URL scheme.
func (e *Engine) transport(u *url.URL) *http.Transport {
	if e.h2c != nil && u.Scheme == "http" {
		return e.h2c
	}
	return e.tr
}

// slots returns the per-host slots for HTTP/1.1 requests, or nil when the
// request will not use HTTP/1.1 (h2c, or a host known to speak HTTP/2).
func (e *Engine) slots(u *url.URL, tr *http.Transport) *hostSlots {
	if tr == e.h2c {
		return nil
	}
	key := u.Scheme + "://" + u.Host
	v, ok := e.hosts.Load(key)
	if !ok {
		v, _ = e.hosts.LoadOrStore(key, &hostSlots{sem: make(chan struct{}, e.cfg.MaxConnsPerHost)})
	}
	hs := v.(*hostSlots)
	if hs.h2.Load() {
		return nil
	}
	return hs
}

// acquire takes a slot, waiting up to PoolTimeout.
func (e *Engine) acquire(ctx context.Context, hs *hostSlots) error {
	select {
	case hs.sem <- struct{}{}:
		return nil
	default:
	}
	e.waits.Add(1)
	t := time.NewTimer(e.cfg.PoolTimeout)
	defer t.Stop()
	select {
	case hs.sem <- struct{}{}:
		return nil
	case <-t.C:
		return errPoolTimeout(e.cfg.PoolTimeout, e.cfg.MaxConnsPerHost)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close closes idle connections of both transports. In-flight requests are
// not affected. Close may be called more than once.
func (e *Engine) Close() error {
	e.tr.CloseIdleConnections()
	if e.h2c != nil {
		e.h2c.CloseIdleConnections()
	}
	return nil
}
