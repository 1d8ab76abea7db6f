package engine

import (
	"crypto/tls"
	"net/url"
	"time"

	"github.com/rs/zerolog"
)

// Config is shared by all engines. The zero value of every field means its
// documented default; Defaults fills them in.
type Config struct {
	// HTTP2 allows HTTP/2 over TLS (negotiated with ALPN) for https://
	// upstreams. Default (after Defaults): true. Engines that cannot speak
	// HTTP/2 use HTTP/1.1 and report that in Describe.
	HTTP2 bool
	// H2C makes http:// upstreams use cleartext HTTP/2 with prior knowledge.
	// There is no fallback to HTTP/1.1, so set it only for upstreams that
	// speak h2c. Requires HTTP2.
	H2C bool
	// TLS is the client TLS configuration (RootCAs for a custom CA). nil
	// means the system roots. Verification is never disabled by ccproxy.
	TLS *tls.Config
	// Proxy returns the forward proxy for a target URL, nil for a direct
	// connection; nil Proxy means no proxy at all.
	Proxy func(*url.URL) (*url.URL, error)

	// MaxIdleConnsPerHost is the number of keep-alive connections kept per
	// upstream host. Default 50.
	MaxIdleConnsPerHost int
	// MaxConnsPerHost bounds all connections (idle + in use) per host.
	// Default 500. A request that finds none free waits up to PoolTimeout.
	MaxConnsPerHost int
	// IdleConnTimeout is how long an idle keep-alive connection is kept
	// ("KEEPALIVE_EXPIRY"). Default 120 s.
	IdleConnTimeout time.Duration

	// DialTimeout bounds TCP connect plus TLS handshake. Default 10 s.
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the response head after the
	// request was written ("read timeout"). Default 180 s.
	ResponseHeaderTimeout time.Duration
	// IdleReadTimeout bounds the gap between two successful body reads; it
	// is not a total deadline. Default 180 s.
	IdleReadTimeout time.Duration
	// WriteTimeout bounds writing the request. Default 30 s.
	WriteTimeout time.Duration
	// PoolTimeout bounds the wait for a free connection when
	// MaxConnsPerHost are in use. Default 10 s.
	PoolTimeout time.Duration
	// PingInterval is the HTTP/2 keep-alive ping interval on a connection
	// that received no frame for that long; PingTimeout closes the
	// connection when the ping is not answered. Defaults 30 s and 15 s.
	PingInterval time.Duration
	PingTimeout  time.Duration

	// Logger receives the engine's own diagnostics. The zero value is silent.
	Logger zerolog.Logger
}

// Default values of Config.
const (
	DefaultMaxIdleConnsPerHost   = 50
	DefaultMaxConnsPerHost       = 500
	DefaultIdleConnTimeout       = 120 * time.Second
	DefaultDialTimeout           = 10 * time.Second
	DefaultResponseHeaderTimeout = 180 * time.Second
	DefaultIdleReadTimeout       = 180 * time.Second
	DefaultWriteTimeout          = 30 * time.Second
	DefaultPoolTimeout           = 10 * time.Second
	DefaultPingInterval          = 30 * time.Second
	DefaultPingTimeout           = 15 * time.Second
)

// Defaults returns c with every zero duration and limit replaced by its
// default. It does not change HTTP2 or H2C: callers that want the HTTP/2
// default start from NewConfig.
func (c Config) Defaults() Config {
	setInt := func(p *int, d int) {
		if *p <= 0 {
			*p = d
		}
	}
	setDur := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	setInt(&c.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost)
	setInt(&c.MaxConnsPerHost, DefaultMaxConnsPerHost)
	setDur(&c.IdleConnTimeout, DefaultIdleConnTimeout)
	setDur(&c.DialTimeout, DefaultDialTimeout)
	setDur(&c.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	setDur(&c.IdleReadTimeout, DefaultIdleReadTimeout)
	setDur(&c.WriteTimeout, DefaultWriteTimeout)
	setDur(&c.PoolTimeout, DefaultPoolTimeout)
	setDur(&c.PingInterval, DefaultPingInterval)
	setDur(&c.PingTimeout, DefaultPingTimeout)
	return c
}

// NewConfig returns the default configuration: HTTP/2 allowed, all limits
// and timeouts at their defaults.
func NewConfig() Config {
	return Config{HTTP2: true}.Defaults()
}
