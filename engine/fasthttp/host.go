package fasthttp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	fh "github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpproxy"
	"golang.org/x/net/http/httpproxy"

	"github.com/ccproxy/ccproxy/engine"
)

// host is one upstream (scheme + authority) with its connection pool.
type host struct {
	hc          *fh.HostClient
	isTLS       bool
	tls         *tls.Config // per-host clone, nil for http://
	dialTimeout time.Duration
	dialer      net.Dialer
	proxyDial   fh.DialFunc // nil: direct connection
	proxyErr    error       // the proxy could not be set up; every dial fails with it

	created atomic.Int64 // successful dials
	reused  atomic.Int64 // requests served on an already used connection
	waits   atomic.Int64 // requests that had to wait for a connection slot

	// slots holds one token per request holding a connection (at most
	// MaxConnsPerHost). Waiting for one here, rather than in fasthttp's
	// AcquireConn, lets the request's context end the wait.
	slots       chan struct{}
	poolTimeout time.Duration
}

// acquireSlot waits for a connection slot until ctx ends or PoolTimeout.
func (h *host) acquireSlot(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	h.waits.Add(1)
	t := time.NewTimer(h.poolTimeout)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("fasthttp: waiting for a free connection: %w", context.Cause(ctx))
	case <-t.C:
		return fmt.Errorf("fasthttp: %w: no connection free within %v", engine.ErrPoolTimeout, h.poolTimeout)
	}
}

// releaseSlot gives a slot back once a request's connection is back in
// fasthttp's pool or closed: released earlier, the next request could find
// the pool full and wait inside AcquireConn, where its context cannot end
// the wait.
func (h *host) releaseSlot() { <-h.slots }

func newHost(cfg *engine.Config, idleConn time.Duration, key string, isTLS bool) *host {
	authority := key[len("http://"):]
	if isTLS {
		authority = key[len("https://"):]
	}
	addr := fh.AddMissingPort(authority, isTLS)
	h := &host{isTLS: isTLS, dialTimeout: cfg.DialTimeout,
		slots: make(chan struct{}, cfg.MaxConnsPerHost), poolTimeout: cfg.PoolTimeout}
	h.dialer.Timeout = cfg.DialTimeout
	h.dialer.KeepAlive = 30 * time.Second
	if isTLS {
		if cfg.TLS != nil {
			h.tls = cfg.TLS.Clone()
		} else {
			h.tls = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if h.tls.ServerName == "" {
			if hostname, _, err := net.SplitHostPort(addr); err == nil {
				h.tls.ServerName = hostname
			}
		}
		h.tls.NextProtos = []string{"http/1.1"}
	}
	if cfg.Proxy != nil {
		h.setProxy(cfg, key)
	}
	h.hc = &fh.HostClient{
		Addr:                      addr,
		Name:                      "",
		NoDefaultUserAgentHeader:  true,
		IsTLS:                     isTLS,
		TLSConfig:                 h.tls,
		Dial:                      h.dial,
		MaxConns:                  cfg.MaxConnsPerHost,
		MaxConnWaitTimeout:        cfg.PoolTimeout,
		MaxIdleConnDuration:       idleConn,
		ReadTimeout:               0,
		WriteTimeout:              cfg.WriteTimeout,
		MaxIdemponentCallAttempts: 1,
		RetryIfErr:                func(*fh.Request, int, error) (bool, bool) { return false, false },
		StreamResponseBody:        true,
		ReadBufferSize:            readBufferSize,
	}
	return h
}

// setProxy resolves cfg.Proxy for this upstream once. Only when it names a
// proxy is the fasthttpproxy dialer used, and then with GetDialFuncForTLS so
// the scheme comes from the upstream URL and not from its port.
func (h *host) setProxy(cfg *engine.Config, key string) {
	u, err := url.Parse(key)
	if err != nil {
		h.proxyErr = err
		return
	}
	pu, err := cfg.Proxy(u)
	if err != nil {
		h.proxyErr = fmt.Errorf("resolve proxy: %w", err)
		return
	}
	if pu == nil {
		return
	}
	d := &fasthttpproxy.Dialer{
		Config:         httpproxy.Config{HTTPProxy: pu.String(), HTTPSProxy: pu.String()},
		Timeout:        cfg.DialTimeout,
		ConnectTimeout: cfg.DialTimeout,
		DialDualStack:  true,
	}
	h.proxyDial, h.proxyErr = d.GetDialFuncForTLS(false, h.isTLS)
}
