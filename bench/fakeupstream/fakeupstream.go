// Package fakeupstream is ccproxy's fake OpenAI-compatible upstream. It
// serves POST /v1/chat/completions (unary and SSE streams) and GET
// /v1/models over HTTP/1.1, h2c (prior knowledge) or TLS (h2 and http/1.1
// via ALPN), answers deterministically with OpenAI-exact objects, records
// what it was sent, and can inject faults (error statuses, resets,
// truncated or malformed streams, stalls). Tests, ccproxy's demo mode and
// the benchmarks all use it.
//
// Start runs it in the calling process. Spawn runs it as a child process
// (the bench/cmd/fakeupstream command), so that a client measured against
// it crosses a process boundary as it would against a real upstream; the
// returned Child is driven through the control endpoints (Options.Control,
// ControlPrefix): options, stats and the last request, as JSON.
package fakeupstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Protocol selects how the server speaks HTTP.
type Protocol string

const (
	// H1 is plain HTTP/1.1.
	H1 Protocol = "h1"
	// H2C is cleartext HTTP/2 with prior knowledge (HTTP/1.1 is accepted too).
	H2C Protocol = "h2c"
	// TLS offers h2 and http/1.1 via ALPN, with a certificate from a private CA.
	TLS Protocol = "tls"
)

// Defaults applied by Start and SetOptions to zero fields.
const (
	DefaultChunks     = 20
	DefaultReplyBytes = 400
)

// Options configure the server. All fields but Protocol, Addr and Control
// can be changed at run time with SetOptions.
type Options struct {
	// Protocol defaults to H1.
	Protocol Protocol
	// Addr is the listen address, default "127.0.0.1:0".
	Addr string
	// HeaderDelay is waited before the response headers are written.
	HeaderDelay time.Duration
	// FirstChunkDelay is waited, in streams, after the headers and before the
	// first event.
	FirstChunkDelay time.Duration
	// ChunkInterval is waited, in streams, between events.
	ChunkInterval time.Duration
	// Chunks is the number of content chunks per streamed text reply
	// (default 20).
	Chunks int
	// ReplyBytes is the approximate size of the reply text (default 400).
	ReplyBytes int
	// Compression is "" for none, "auto" to negotiate from Accept-Encoding
	// (preference zstd > br > gzip > deflate), or one of gzip, deflate, br,
	// zstd to force that coding whatever the client accepts.
	Compression string
	// Reasoning makes the server emit reasoning_content before the text when
	// the request has reasoning_effort.
	Reasoning bool
	// TextOnly answers every turn with text (Chunks content chunks), never
	// with a tool call: benchmarks use it so a tool-bearing Claude Code turn
	// streams the full chunk count.
	TextOnly bool
	// Control serves the control endpoints under ControlPrefix (options,
	// stats, last request: see control.go), through which a parent process
	// drives a child it spawned (Spawn). Off, those paths are 404 like any
	// unknown path.
	Control bool
	// Logger receives debug lines about requests and server errors.
	Logger zerolog.Logger
}

func (o *Options) normalize() {
	if o.Protocol == "" {
		o.Protocol = H1
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Chunks <= 0 {
		o.Chunks = DefaultChunks
	}
	if o.ReplyBytes <= 0 {
		o.ReplyBytes = DefaultReplyBytes
	}
	o.Compression = strings.ToLower(strings.TrimSpace(o.Compression))
}

func (o *Options) validate() error {
	switch o.Protocol {
	case H1, H2C, TLS:
	default:
		return fmt.Errorf("fakeupstream: unknown protocol %q", o.Protocol)
	}
	switch o.Compression {
	case "", "auto", "gzip", "deflate", "br", "zstd":
	default:
		return fmt.Errorf("fakeupstream: unknown compression %q", o.Compression)
	}
	return nil
}

// Stats counts what the server has seen.
type Stats struct {
	// Requests is every request handled, on any path.
	Requests int64
	// Streams is every streamed chat completion whose headers were sent.
	Streams int64
	// Canceled counts handlers that saw the client go away (r.Context()
	// done or a failed write) before they finished.
	Canceled int64
	// ConnsAccepted counts TCP connections the server's own listener
	// accepted (not those of a server that embeds Handler()).
	ConnsAccepted int64
	// ByProto counts requests by r.Proto ("HTTP/1.1", "HTTP/2.0").
	ByProto map[string]int64
}

// Recorded is one request as the server received it.
type Recorded struct {
	Method, Path, Proto string
	Header              http.Header
	Body                []byte
}

func (r Recorded) clone() Recorded {
	r.Header = r.Header.Clone()
	if r.Body != nil {
		r.Body = append([]byte(nil), r.Body...)
	}
	return r
}

// Server is a running fake upstream.
type Server struct {
	// URL is the base URL without /v1, e.g. http://127.0.0.1:1234 or
	// https://127.0.0.1:1234.
	URL string

	proto    Protocol
	control  bool // Options.Control, fixed at Start
	ln       net.Listener
	srv      *http.Server
	ca       *authority
	opts     atomic.Pointer[Options]
	optsMu   sync.Mutex // serialises SetOptions
	closed   chan struct{}
	closeOne sync.Once
	closeMu  sync.Mutex // guards closing and handlers.Add
	closing  bool
	handlers sync.WaitGroup
	handler  http.Handler

	stats   counters
	rec     recorder
	faults  faultQueue
	cache   replyCache
	enc     encoders
	bodies  sync.Pool // *[]byte request body buffers
	headers fixedHeaders
}

// Start listens on opts.Addr and serves until Close.
func Start(opts Options) (*Server, error) {
	opts.normalize()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Server{proto: opts.Protocol, control: opts.Control, closed: make(chan struct{})}
	o := opts
	s.opts.Store(&o)
	s.rec.init(recordRing)
	s.cache.init(cacheEntries)
	s.enc.init()
	s.headers.init()
	s.handler = http.HandlerFunc(s.serveHTTP)

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("fakeupstream: listen: %w", err)
	}
	s.ln = ln

	var protos http.Protocols
	protos.SetHTTP1(true)
	scheme := "http"
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          log.New(logWriter{s}, "", 0),
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.stats.conns.Add(1)
			}
		},
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 1000},
	}
	if opts.Control {
		srv.ConnContext = withConnState
	}
	switch opts.Protocol {
	case H2C:
		protos.SetUnencryptedHTTP2(true)
	case TLS:
		ca, err := newAuthority()
		if err != nil {
			ln.Close()
			return nil, err
		}
		s.ca = ca
		protos.SetHTTP2(true)
		srv.TLSConfig = &tls.Config{
			Certificates: []tls.Certificate{ca.leaf},
			NextProtos:   []string{"h2", "http/1.1"},
			MinVersion:   tls.VersionTLS12,
		}
		scheme = "https"
	}
	srv.Protocols = &protos
	s.srv = srv
	s.URL = scheme + "://" + ln.Addr().String()

	go func() {
		var err error
		if opts.Protocol == TLS {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger().Error().Err(err).Msg("fakeupstream: serve")
		}
	}()
	return s, nil
}

// Close stops the server, closes every connection and waits for in-flight
// handlers to return. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOne.Do(func() {
		s.closeMu.Lock()
		s.closing = true
		s.closeMu.Unlock()
		close(s.closed)
		_ = s.srv.Close()
		s.handlers.Wait()
	})
}

// Handler returns the server's handler, for embedding it in another server
// (e.g. httptest). Requests through it are recorded and counted the same way.
func (s *Server) Handler() http.Handler { return s.handler }

// Addr returns the listen address (host:port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Protocol returns the protocol the server speaks.
func (s *Server) Protocol() Protocol { return s.proto }

// ClientTLS returns a TLS config that trusts the server's CA, or nil unless
// the server speaks TLS. Each call returns a new config.
func (s *Server) ClientTLS() *tls.Config {
	if s.ca == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.ca.pool.Clone(), MinVersion: tls.VersionTLS12}
}

// CAPEM returns the PEM of the CA certificate (usable as SSL_CERT_FILE), or
// nil unless the server speaks TLS.
func (s *Server) CAPEM() []byte {
	if s.ca == nil {
		return nil
	}
	return append([]byte(nil), s.ca.certPEM...)
}

// Client returns a new net/http client configured for the server's
// protocol: HTTP/1.1 for H1, h2c prior knowledge for H2C, and TLS trusting
// the server's CA with h2 offered for TLS. It does not ask for or decode
// compression (DisableCompression).
func (s *Server) Client() *http.Client {
	var p http.Protocols
	tr := &http.Transport{
		DisableCompression:  true,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	switch s.proto {
	case H2C:
		p.SetUnencryptedHTTP2(true)
	case TLS:
		p.SetHTTP1(true)
		p.SetHTTP2(true)
		tr.TLSClientConfig = s.ClientTLS()
	default:
		p.SetHTTP1(true)
	}
	tr.Protocols = &p
	return &http.Client{Transport: tr}
}

// Options returns a copy of the current options.
func (s *Server) Options() Options { return *s.opts.Load() }

// SetOptions changes behaviour at run time; fn edits a copy of the current
// options, which then applies to requests that start afterwards. Changes to
// Protocol, Addr and Control are ignored; invalid options (an unknown
// compression) are logged and ignored. Safe for concurrent use.
func (s *Server) SetOptions(fn func(*Options)) {
	if err := s.setOptions(fn); err != nil {
		s.logger().Error().Err(err).Msg("fakeupstream: SetOptions ignored")
	}
}

// setOptions is SetOptions returning the validation error.
func (s *Server) setOptions(fn func(*Options)) error {
	s.optsMu.Lock()
	defer s.optsMu.Unlock()
	o := *s.opts.Load()
	fn(&o)
	cur := s.opts.Load()
	o.Protocol, o.Addr, o.Control = cur.Protocol, cur.Addr, cur.Control
	o.normalize()
	if err := o.validate(); err != nil {
		return err
	}
	s.opts.Store(&o)
	return nil
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// LastRequest returns a deep copy of the last request seen (zero if none).
func (s *Server) LastRequest() Recorded { return s.rec.last() }

// Requests returns deep copies of the recorded requests, oldest first (the
// last 64 at most).
func (s *Server) Requests() []Recorded { return s.rec.all() }

// ResetRecorded forgets the recorded requests.
func (s *Server) ResetRecorded() { s.rec.reset() }

// InjectFaults queues faults. Each chat-completions request attempt
// consumes the oldest queued fault (FIFO); with none queued, requests are
// served normally.
func (s *Server) InjectFaults(f ...Fault) { s.faults.push(f...) }

// PendingFaults returns how many injected faults are still queued.
func (s *Server) PendingFaults() int { return s.faults.len() }

func (s *Server) logger() *zerolog.Logger {
	// stored Options are never modified, so pointing into them is safe
	return &s.opts.Load().Logger
}

// sleep waits d, or until ctx is done or the server closes. It reports
// whether the full duration passed.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closed:
		return false
	}
}

// logWriter sends net/http's server error log to the zerolog logger.
type logWriter struct{ s *Server }

func (w logWriter) Write(p []byte) (int, error) {
	w.s.logger().Debug().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
