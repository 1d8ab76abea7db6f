// Package fasthttp is the ccproxy engine built on github.com/valyala/fasthttp.
// It speaks HTTP/1.1 only (plain and TLS) and registers itself as "fasthttp".
//
// fasthttp's HostClient is used as a connection pool only: the engine writes
// the request and reads the response head itself on a pooled connection, so
// that it owns every deadline. HostClient.Do cannot be used for streams: its
// request timeout (DoDeadline/DoTimeout) and ReadTimeout stay armed as the
// connection's read deadline while the body streams, so they would cut long
// SSE responses. Here the head wait is bounded by ResponseHeaderTimeout, each
// body read by IdleReadTimeout, and context cancellation closes the
// connection so that any blocked read returns at once. A new connection is
// made on a goroutine of its own (see dial): context cancellation ends the
// wait for it, and the connect or TLS handshake with it.
package fasthttp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	fh "github.com/valyala/fasthttp"

	"github.com/ccproxy/ccproxy/engine"
)

// Name is the name under which the engine is registered.
const Name = "fasthttp"

// maxIdleConnDuration caps how long an idle connection is kept. fasthttp does
// not notice when the server closes an idle keep-alive connection, and the
// next request on it fails with "server closed connection before returning
// the first response byte" (POSTs are not retried). Common servers close idle
// connections after 5 s, so idle connections are dropped after at most 4 s,
// or after Config.IdleConnTimeout when that is shorter.
const maxIdleConnDuration = 4 * time.Second

// readBufferSize is the read buffer each in-flight response holds: memory
// every open stream pays. OpenAI-compatible upstreams send 1-3 KB heads;
// a larger head (gateways in front of them add headers) is read again
// through a buffer of up to maxHeadSize (see readHead).
const readBufferSize = 4 << 10

// maxHeadSize bounds a response head; a larger one is an error.
const maxHeadSize = 256 << 10

func init() {
	engine.Register(Name, func(cfg engine.Config) (engine.Engine, error) {
		return New(cfg)
	})
}

// Engine is the fasthttp engine. It is safe for concurrent use.
type Engine struct {
	cfg      engine.Config
	idleConn time.Duration

	mu    sync.RWMutex
	hosts map[string]*host // key: scheme://host[:port] as in the request URL
}

// New returns an engine for cfg; zero fields of cfg take their defaults.
// cfg.HTTP2 and cfg.H2C are ignored: this engine speaks HTTP/1.1 only.
func New(cfg engine.Config) (*Engine, error) {
	cfg = cfg.Defaults()
	return &Engine{
		cfg:      cfg,
		idleConn: min(cfg.IdleConnTimeout, maxIdleConnDuration),
		hosts:    make(map[string]*host),
	}, nil
}

// Do sends req upstream and returns the response head with a streaming
// body, following the engine.Engine contract.
func (e *Engine) Do(ctx context.Context, req *engine.Request) (*engine.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fasthttp: %w", err)
	}
	h, err := e.host(req.URL)
	if err != nil {
		return nil, err
	}
	return pool.roundTrip(ctx, e, h, req)
}

// host returns the cached per-upstream client for rawURL, creating it on
// first use.
func (e *Engine) host(rawURL string) (*host, error) {
	key, tls, err := hostKey(rawURL)
	if err != nil {
		return nil, err
	}
	e.mu.RLock()
	h := e.hosts[key]
	e.mu.RUnlock()
	if h != nil {
		return h, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if h = e.hosts[key]; h != nil {
		return h, nil
	}
	h = newHost(&e.cfg, e.idleConn, key, tls)
	e.hosts[strings.Clone(key)] = h
	return h, nil
}

// hostKey returns the "scheme://authority" prefix of rawURL without
// allocating, and whether the scheme is https.
func hostKey(rawURL string) (key string, isTLS bool, err error) {
	i := strings.Index(rawURL, "://")
	if i <= 0 {
		return "", false, fmt.Errorf("fasthttp: url %q is not absolute", rawURL)
	}
	switch scheme := rawURL[:i]; {
	case strings.EqualFold(scheme, "https"):
		isTLS = true
	case strings.EqualFold(scheme, "http"):
	default:
		return "", false, fmt.Errorf("fasthttp: unsupported scheme %q", scheme)
	}
	rest := rawURL[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if end == 0 {
		return "", false, fmt.Errorf("fasthttp: url %q has no host", rawURL)
	}
	return rawURL[:i+3+end], isTLS, nil
}

// Close closes the idle connections of every upstream. In-flight requests
// are not affected and the engine stays usable.
func (e *Engine) Close() error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, h := range e.hosts {
		h.hc.CloseIdleConnections()
	}
	return nil
}

// PoolStats sums the pools of all upstreams. Open and Idle come from
// fasthttp (Open includes connections being dialed); Created counts
// successful dials, Reused requests that got an already used connection and
// Waits requests that had to wait for a connection slot, all exact.
func (e *Engine) PoolStats() engine.PoolStats {
	var s engine.PoolStats
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, h := range e.hosts {
		open, idle := h.hc.ConnsCount(), h.hc.IdleConnsCount()
		s.Open += open
		s.Idle += idle
		s.Created += h.created.Load()
		s.Reused += h.reused.Load()
		s.Waits += h.waits.Load()
	}
	s.InUse = max(s.Open-s.Idle, 0)
	return s
}

// Describe reports the engine's effective settings.
func (e *Engine) Describe() map[string]any {
	e.mu.RLock()
	upstreams := make([]string, 0, len(e.hosts))
	for k := range e.hosts {
		upstreams = append(upstreams, k)
	}
	e.mu.RUnlock()
	slices.Sort(upstreams)
	c := &e.cfg
	return map[string]any{
		"engine":                   Name,
		"protocols":                []string{"HTTP/1.1"},
		"http2":                    false,
		"http2_note":               "fasthttp has no released HTTP/2 client; HTTP/2 and h2c settings are ignored",
		"max_conns_per_host":       c.MaxConnsPerHost,
		"max_idle_conns_per_host":  "not enforced (fasthttp has no idle cap; idle connections expire)",
		"idle_conn_timeout":        e.idleConn.String(),
		"dial_timeout":             c.DialTimeout.String(),
		"response_header_timeout":  c.ResponseHeaderTimeout.String(),
		"idle_read_timeout":        c.IdleReadTimeout.String(),
		"write_timeout":            c.WriteTimeout.String(),
		"pool_timeout":             c.PoolTimeout.String(),
		"proxy":                    c.Proxy != nil,
		"custom_tls":               c.TLS != nil,
		"read_buffer_size":         readBufferSize,
		"idempotent_call_attempts": 1,
		"upstreams":                upstreams,
	}
}

// classify wraps a transport error, preferring the context's error when
// the context ended and the engine's timeout sentinels for deadlines.
func classify(ctx context.Context, cancelled bool, timeout error, what string, err error) error {
	if cancelled {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("fasthttp: %s: %w", what, cerr)
		}
	}
	if isTimeout(err) {
		return fmt.Errorf("fasthttp: %s: %w: %w", what, timeout, err)
	}
	return fmt.Errorf("fasthttp: %s: %w", what, err)
}

func isTimeout(err error) bool {
	if errors.Is(err, fh.ErrTimeout) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

var _ engine.Engine = (*Engine)(nil)
var _ engine.StatsReporter = (*Engine)(nil)
var _ engine.Describer = (*Engine)(nil)
