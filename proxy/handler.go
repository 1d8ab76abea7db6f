// Package proxy is ccproxy's HTTP edge: it accepts Anthropic Messages API
// requests (and OpenAI-shaped ones to pass through), translates them, sends
// them upstream through an engine.Engine, and translates the answers back.
package proxy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/internal/bufpool"
	"github.com/ccproxy/ccproxy/proxy/metrics"
	"github.com/ccproxy/ccproxy/proxy/tokens"
	"github.com/ccproxy/ccproxy/proxy/toopenai"
)

// Config configures a Handler. Zero values mean the documented defaults.
type Config struct {
	Engine     engine.Engine
	EngineName string
	// UpstreamURL is the OpenAI-compatible base URL including its version
	// path, e.g. "https://api.openai.com/v1".
	UpstreamURL string
	// UpstreamKey is sent upstream as "Authorization: Bearer". Never logged,
	// and scrubbed (replaced by "[REDACTED]") from upstream error text
	// that echoes it before the text reaches a client or a log line; a
	// key shorter than 8 bytes is not scrubbed (see minSecretLen).
	UpstreamKey string
	// UpstreamKeys, instead of UpstreamKey, are several upstream keys
	// (none may be empty; at most 64) that requests take in turn, round
	// robin. A key the upstream refuses (401/403) is benched for KeyBench
	// and the request goes on at once with the next key; one rate limited
	// (429) is benched for its Retry-After (at most KeyBench), or
	// KeyRateLimitBench without one, and the request moves to the next key
	// without waiting when one is free. With every key benched, the one
	// whose bench ends first is used. All are scrubbed like UpstreamKey;
	// logs name a key by its 1-based index.
	UpstreamKeys []string
	// KeyBench and KeyRateLimitBench: defaults 5 min and 10 s.
	KeyBench          time.Duration
	KeyRateLimitBench time.Duration
	// Fallbacks maps an upstream model to the models to try, in order,
	// when a translated request to it fails before any byte reached the
	// client with a 429 (every key tried), a 5xx/529 after its retries or
	// a timeout, or with its own circuit breaker open (not with the
	// upstream-wide one open: it guards every model). The answer still
	// names the model the client asked for. A model may not fall back to
	// itself nor list a fallback twice.
	Fallbacks map[string][]string

	Models          *toopenai.Models
	ReasoningReplay bool

	// PingInterval: a ping event is sent while the upstream is silent this
	// long. Default 10 s.
	PingInterval time.Duration
	// MaxRequestBytes caps request bodies (413 beyond). Default 32 MiB.
	MaxRequestBytes int64
	// MaxStreamDuration, when > 0, ends a stream with an error event after
	// that long.
	MaxStreamDuration time.Duration
	// DownstreamWriteTimeout bounds each write to a client (a client that
	// stops reading is dropped). Default 30 s.
	DownstreamWriteTimeout time.Duration
	// ClientReadTimeout bounds each wait for more of a request body: a
	// client that stops sending mid-body for this long gets 408 (within
	// half as long again) and frees what it held. Default 30 s.
	ClientReadTimeout time.Duration

	// MaxRetries retries (after the first try) with exponential backoff and
	// full jitter from RetryBaseDelay up to RetryMaxDelay. Defaults 2,
	// 500 ms, 8 s. RetryAfterCap: a longer Retry-After is passed to the
	// client instead of waited for (default 20 s). MaxRetries < 0 disables.
	MaxRetries     int
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration
	RetryAfterCap  time.Duration

	// BreakerThreshold consecutive failures open a circuit for
	// BreakerCooldown: 5xx/529 answers for one upstream model open that
	// model's circuit, failures that got no answer at all (connection
	// refused or reset, TLS, timeouts) the upstream-wide one. Defaults 5
	// and 30 s; a negative threshold disables them.
	BreakerThreshold int
	BreakerCooldown  time.Duration

	// MaxBufferedBytes bounds the request-body bytes held in memory at
	// once (see bodyBudget); a request waits up to QueueTimeout for its
	// share, then gets 529. Default 16 MiB; < 0 means unlimited.
	MaxBufferedBytes int64

	// MaxConcurrent bounds requests in flight (0 = unlimited); a request
	// waits up to QueueTimeout (default 2 s) for a slot, then gets 529.
	MaxConcurrent int
	QueueTimeout  time.Duration

	// APIKeys, when non-empty, are the keys clients must present (x-api-key
	// or Authorization: Bearer) on every route but /health.
	APIKeys []string

	// Tokens counts tokens for count_tokens; nil builds a default counter.
	Tokens *tokens.Counter
	// Metrics receives per-request figures; nil disables them.
	Metrics *metrics.Metrics
	Logger  zerolog.Logger
	// Version is reported by /health.
	Version string
}

// Handler is the ccproxy http.Handler.
type Handler struct {
	cfg      Config
	engine   engine.Engine
	chatURL  string
	modelURL string
	// ring holds the upstream keys and their request headers.
	ring *keyRing
	// secret scrubs the upstream key from upstream error text before it
	// reaches a client or a log line.
	secret  secret
	keys    [][32]byte
	retry   retryPolicy
	breaker *breaker       // upstream-wide: transport failures
	models  *modelBreakers // per upstream model: its 5xx/529 answers
	slots   chan struct{}
	tokens  *tokens.Counter
	metrics *metrics.Metrics
	log     zerolog.Logger
	// quietEnd: no per-request log line is written, so a stream's last
	// events may wait unflushed for the handler to return and leave with
	// the response's end (a log write on the way out would delay them).
	quietEnd bool
	topts    toopenai.Options

	budget    bodyBudget
	date      atomic.Pointer[dateStamp]
	states    sync.Pool     // *reqState
	large     *bufpool.Pool // request bodies, their translations, unary answers: largeBuf and up, outside the heap
	smallBufs sync.Pool     // *[]byte of smallBuf or more: small bodies, copy buffers, event batches
	streams   sync.Pool     // *toanthropic.Stream
	readers   sync.Pool     // *sse.Reader
	reqSeq    atomic.Uint64
	reqBase   string
	// stopCtx is cancelled by Stop: running streams end, new requests are
	// refused.
	stopCtx  context.Context
	stopFunc context.CancelFunc
}

// Stop makes running streams end now with an error event and refuses new
// requests. Call it when the shutdown grace period is over.
func (h *Handler) Stop() { h.stopFunc() }

// stopScope marks a context that Stop cancels: the value is the Handler.
type stopScope struct{}

// BaseContext is for http.Server.BaseContext: the requests of a server
// built with it derive from Stop's context, so Stop reaches them without
// each request registering with it (a context and a callback each, and a
// lock every request shares). A Handler served without it still ends its
// requests on Stop, at that cost. Use it only on a server whose requests
// all reach this Handler: its Stop ends every request of that server.
func (h *Handler) BaseContext(net.Listener) context.Context {
	return context.WithValue(h.stopCtx, stopScope{}, h)
}

// New validates cfg and builds a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Engine == nil {
		return nil, errors.New("proxy: Config.Engine is nil")
	}
	if cfg.Models == nil {
		return nil, errors.New("proxy: Config.Models is nil")
	}
	base := strings.TrimRight(cfg.UpstreamURL, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, errors.New("proxy: upstream URL must be http:// or https://")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.PingInterval, 10*time.Second)
	def(&cfg.DownstreamWriteTimeout, 30*time.Second)
	def(&cfg.ClientReadTimeout, 30*time.Second)
	def(&cfg.RetryBaseDelay, 500*time.Millisecond)
	def(&cfg.RetryMaxDelay, 8*time.Second)
	def(&cfg.RetryAfterCap, 20*time.Second)
	def(&cfg.BreakerCooldown, 30*time.Second)
	def(&cfg.QueueTimeout, 2*time.Second)
	def(&cfg.KeyBench, defaultKeyBench)
	def(&cfg.KeyRateLimitBench, defaultKeyRateLimitBench)
	upKeys := cfg.UpstreamKeys
	switch {
	case len(upKeys) > 0 && cfg.UpstreamKey != "":
		return nil, errors.New("proxy: set Config.UpstreamKey or Config.UpstreamKeys, not both")
	case cfg.UpstreamKey != "":
		upKeys = []string{cfg.UpstreamKey}
	}
	ring, err := newKeyRing(upKeys)
	if err != nil {
		return nil, err
	}
	if err := checkFallbacks(cfg.Fallbacks); err != nil {
		return nil, err
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = 32 << 20
	}
	if cfg.MaxBufferedBytes == 0 {
		cfg.MaxBufferedBytes = 16 << 20
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 2
	} else if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.BreakerThreshold == 0 {
		cfg.BreakerThreshold = 5
	}
	h := &Handler{
		large:    bufpool.New(largeKeep, largeIdle, largeKeepIdle),
		cfg:      cfg,
		engine:   cfg.Engine,
		chatURL:  base + "/chat/completions",
		modelURL: base + "/models",
		retry: retryPolicy{Max: cfg.MaxRetries, BaseDelay: cfg.RetryBaseDelay,
			MaxDelay: cfg.RetryMaxDelay, RetryAfterCap: cfg.RetryAfterCap},
		tokens:   cfg.Tokens,
		metrics:  cfg.Metrics,
		log:      cfg.Logger,
		quietEnd: !requestLogOn(cfg.Logger),
		reqBase:  newRequestIDBase(),
		topts:    toopenai.Options{Models: cfg.Models, ReasoningReplay: cfg.ReasoningReplay, Logger: cfg.Logger},
	}
	h.ring = ring
	h.secret = newSecret(upKeys...)
	h.stopCtx, h.stopFunc = context.WithCancel(context.Background())
	h.newBreakers()
	h.budget = newBodyBudget(cfg.MaxBufferedBytes)
	if cfg.Metrics != nil {
		cfg.Metrics.SetBufferPool(func() metrics.BufferPoolStats {
			s := h.large.Stats()
			return metrics.BufferPoolStats{InUse: s.InUse, Idle: s.Idle, Released: s.Released}
		})
	}
	if cfg.MaxConcurrent > 0 {
		h.slots = make(chan struct{}, cfg.MaxConcurrent)
	}
	if h.tokens == nil {
		h.tokens = tokens.NewCounter(4096)
	}
	for _, k := range cfg.APIKeys {
		if k = strings.TrimSpace(k); k != "" {
			h.keys = append(h.keys, sha256.Sum256([]byte(k)))
		}
	}
	return h, nil
}

// Routes.
const (
	routeMessages    = "messages"
	routeCountTokens = "count_tokens"
	routeChat        = "chat_completions"
	routeModels      = "models"
	routeHealth      = "health"
	routeMetrics     = "metrics"
	routeOther       = "other"
)

func routeOf(path string) string {
	// A path prefix in the client's base URL is allowed
	// (ANTHROPIC_BASE_URL=http://host/prefix), so match suffixes.
	switch {
	case strings.HasSuffix(path, "/v1/messages"):
		return routeMessages
	case strings.HasSuffix(path, "/v1/messages/count_tokens"):
		return routeCountTokens
	case strings.HasSuffix(path, "/v1/chat/completions"):
		return routeChat
	case strings.HasSuffix(path, "/v1/models"):
		return routeModels
	case path == "/health" || path == "/" || path == "/healthz":
		return routeHealth
	case path == "/v1/metrics" || path == "/metrics":
		return routeMetrics
	}
	return routeOther
}

func allowedMethod(route string) string {
	switch route {
	case routeMessages, routeCountTokens, routeChat:
		return http.MethodPost
	default:
		return http.MethodGet
	}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The request's state is pooled rather than in this frame, which lies
	// under every other: a smaller frame keeps the goroutine's stack at
	// 8 KB for the stream's life (see toopenai's scratch).
	rs, _ := h.states.Get().(*reqState)
	if rs == nil {
		rs = new(reqState)
	}
	*rs = reqState{} // assigned field by field: a literal is built in this frame first
	rs.start, rs.route, rs.h2 = time.Now(), routeOf(r.URL.Path), r.ProtoMajor == 2
	defer h.states.Put(rs)
	rs.id = h.requestID()
	w.Header().Set("x-request-id", rs.id)
	defer h.finish(rs)

	if !h.admit(w, r, rs) {
		return
	}
	if h.slots != nil {
		if !h.takeSlot(w, r, rs) {
			return
		}
		defer h.releaseSlot()
	}
	if h.metrics != nil {
		defer h.metrics.RequestStarted()()
	}
	switch rs.route {
	case routeMessages:
		h.serveMessages(w, r, rs)
	case routeCountTokens:
		h.serveCountTokens(w, r, rs)
	case routeChat:
		h.servePassthrough(w, r, rs, http.MethodPost, h.chatURL)
	case routeModels:
		h.servePassthrough(w, r, rs, http.MethodGet, h.modelURL)
	}
}

// admit answers what needs no upstream (unknown routes, wrong methods,
// /health, bad credentials, /v1/metrics, a stopping proxy) and reports
// whether the request goes on. It is a function of its own so that its
// error values are not in ServeHTTP's frame, which is under every request.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request, rs *reqState) bool {
	if rs.route == routeOther {
		h.fail(w, rs, &apiError{Status: http.StatusNotFound, Type: errNotFound,
			Message: "no route for " + r.Method + " " + r.URL.Path})
		return false
	}
	if m := allowedMethod(rs.route); r.Method != m && !(m == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", m)
		h.fail(w, rs, &apiError{Status: http.StatusMethodNotAllowed, Type: errInvalidRequest,
			Message: "method " + r.Method + " not allowed on " + r.URL.Path + "; use " + m})
		return false
	}
	if rs.route == routeHealth {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok","engine":`+strconv.Quote(h.cfg.EngineName)+`,"version":`+strconv.Quote(h.cfg.Version)+`}`)
		return false
	}
	if !h.authorized(r) {
		h.fail(w, rs, &apiError{Status: http.StatusUnauthorized, Type: errAuthentication,
			Message: "invalid or missing API key: send the key configured in PROXY_API_KEY as x-api-key or Authorization: Bearer"})
		return false
	}
	if rs.route == routeMetrics {
		h.serveMetrics(w, r)
		return false
	}
	if h.stopCtx.Err() != nil {
		h.fail(w, rs, shuttingDownError())
		return false
	}
	return true
}

// shuttingDownError answers a request that Stop keeps from starting (new,
// or still queued for a slot or for the body budget): 503, which clients
// retry (against the next instance).
func shuttingDownError() *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Type: errOverloaded,
		Message: errShuttingDown.Error(), RetryAfter: "1"}
}

func (h *Handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if h.metrics == nil {
		writeError(w, &apiError{Status: http.StatusNotFound, Type: errNotFound, Message: "metrics are disabled"})
		return
	}
	if r.URL.Path == "/metrics" {
		h.metrics.PrometheusHandler().ServeHTTP(w, r)
		return
	}
	h.metrics.JSONHandler().ServeHTTP(w, r)
}

// authorized checks the client's key in constant time (hashing first, so
// neither content nor length leaks through timing).
func (h *Handler) authorized(r *http.Request) bool {
	if len(h.keys) == 0 {
		return true
	}
	key := r.Header.Get("x-api-key")
	if key == "" {
		if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			key = a[7:]
		}
	}
	if key == "" {
		return false
	}
	sum := sha256.Sum256([]byte(key))
	ok := 0
	for i := range h.keys {
		ok |= subtle.ConstantTimeCompare(sum[:], h.keys[i][:])
	}
	return ok == 1
}

// takeSlot takes a concurrency slot (MAX_CONCURRENT_REQUESTS), waiting up
// to QueueTimeout; when it reports false the 529 has been sent (or the
// client has gone).
func (h *Handler) takeSlot(w http.ResponseWriter, r *http.Request, rs *reqState) bool {
	select {
	case h.slots <- struct{}{}:
		return true
	default:
	}
	rs.waited = true
	t := time.NewTimer(h.cfg.QueueTimeout)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-r.Context().Done():
		if h.stopCtx.Err() != nil {
			// Under BaseContext Stop ends the request's context too.
			h.fail(w, rs, shuttingDownError())
			return false
		}
		// The client went away while queued: 499 is recorded, not an
		// overload.
		rs.clientGone = true
		rs.status, rs.errType = 499, errClientGone
		return false
	case <-h.stopCtx.Done():
		h.fail(w, rs, shuttingDownError())
		return false
	}
	h.fail(w, rs, &apiError{Status: 529, Type: errOverloaded,
		Message: "ccproxy is at MAX_CONCURRENT_REQUESTS; try again shortly", RetryAfter: "1"})
	return false
}

func (h *Handler) releaseSlot() { <-h.slots }

// readBody reads the request body into a pooled buffer, enforcing
// MaxRequestBytes. A body that outgrows buf takes more of the body budget,
// for each of the bufs buffers the request holds (see growBody).
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, rs *reqState, buf []byte, bufs int64) ([]byte, *apiError) {
	if r.ContentLength > h.cfg.MaxRequestBytes {
		return buf, &apiError{Status: http.StatusRequestEntityTooLarge, Type: errRequestTooLarge,
			Message: "request body exceeds " + strconv.FormatInt(h.cfg.MaxRequestBytes, 10) + " bytes (MAX_REQUEST_BYTES)"}
	}
	if r.ContentLength > 0 && int64(cap(buf)) < r.ContentLength+1 {
		buf = make([]byte, 0, r.ContentLength+1)
	}
	body := http.MaxBytesReader(w, r.Body, h.cfg.MaxRequestBytes)
	// A client may pause for up to ClientReadTimeout anywhere in its body;
	// one silent for longer gets its 408 before half as long again has
	// gone by. The deadline is set that far (window) ahead and moved, after
	// data, only once less than the timeout is left: most bodies take one
	// deadline and its removal, and every pause shorter than the timeout
	// still fits. Once the body is read the deadline goes (HTTP/1.1:
	// net/http also clears it when it starts watching for the client to
	// leave; HTTP/2: the stream's timer stops). After a failed read it
	// stays: net/http's discarding of the unread rest before the error
	// answer then fails at once and closes the connection, instead of
	// waiting for a stalled client forever.
	rc := http.NewResponseController(w)
	timeout := h.cfg.ClientReadTimeout
	window := timeout + timeout/2
	var dl lazyDeadline
	d, _ := dl.advance(timeout, window)
	_ = rc.SetReadDeadline(d)
	for {
		if len(buf) == cap(buf) {
			// Growing may wait for the body budget: ccproxy's wait, not
			// the client's, so no deadline runs meanwhile (over HTTP/2 a
			// deadline that fires breaks the body for good).
			_ = rc.SetReadDeadline(time.Time{})
			var aerr *apiError
			buf, aerr = h.growBody(r, rs, buf, bufs)
			dl = lazyDeadline{}
			d, _ := dl.advance(timeout, window)
			_ = rc.SetReadDeadline(d)
			if aerr != nil {
				return buf, aerr
			}
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			// Closed after its end, the body is known to net/http as done:
			// the response's first write then skips discarding the rest of
			// it (a pooled-buffer copy run under the handler's deep frames).
			r.Body.Close()
			_ = rc.SetReadDeadline(time.Time{})
			if rs.waited && clientLeft(r) {
				// It gave up while queued: nothing goes upstream.
				return buf, clientGoneError(rs, "client went away while its request was queued")
			}
			return buf, nil
		}
		if err != nil {
			if clientClosed(r, err) && h.stopCtx.Err() == nil {
				// The body stopped short because the client left (one
				// that waited in a queue may have sent only its head:
				// "Expect: 100-continue", or a body larger than the
				// socket buffers): 499, not a bad request.
				return buf, clientGoneError(rs, "client went away before the end of its request body")
			}
			return buf, h.bodyError(err)
		}
		if n > 0 {
			if d, ok := dl.advance(timeout, window); ok {
				_ = rc.SetReadDeadline(d)
			}
		}
	}
}

// bodyError is the answer to a failed read of a request body.
func (h *Handler) bodyError(err error) *apiError {
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &mb):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Type: errRequestTooLarge,
			Message: "request body exceeds " + strconv.FormatInt(h.cfg.MaxRequestBytes, 10) + " bytes (MAX_REQUEST_BYTES)"}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &apiError{Status: http.StatusRequestTimeout, Type: errInvalidRequest,
			Message: "the request body stopped arriving for " + h.cfg.ClientReadTimeout.String() + " (CLIENT_READ_TIMEOUT)"}
	}
	return &apiError{Status: http.StatusBadRequest, Type: errInvalidRequest, Message: "reading request body: " + err.Error()}
}

// Byte buffers come in two kinds. Small ones (smallBuf, grown up to
// largeBuf) are pooled in the heap: bodies under smallBuf bytes (most
// OpenAI passthrough requests), the passthrough copy loop and a stream's
// batches of outgoing events. Large ones (largeBuf and up, by size class)
// hold Claude Code turns, their translations and anything of unknown size;
// they live outside the heap in h.large, which gives the memory of buffers
// left idle after a burst back to the OS (see internal/bufpool). Bodies
// over bufpool.MaxSize get a heap slice of their own, dropped after use.
const (
	smallBuf = 4 << 10
	largeBuf = 64 << 10
)

// Large buffers idle beyond the largeKeep most recent of a size class are
// released after largeIdle: long enough that a steady load (which cycles
// the same few buffers every few milliseconds) never refaults one, short
// enough that memory taken by a burst returns within a second. The kept
// ones go after largeKeepIdle: a Claude Code session, whose turns come
// seconds apart, keeps its buffers, and a proxy left idle (or whose
// sessions have grown into larger size classes) holds none.
const (
	largeKeep     = 8
	largeIdle     = 250 * time.Millisecond
	largeKeepIdle = time.Minute
)

// getBuf returns a byte buffer for a body of n bytes (n < 0: unknown),
// empty. A known length gets room for n+1 bytes: readBody's last read
// needs a spare byte to see the end without growing the buffer (which
// would replace a pooled one by a heap slice). A length over
// MaxRequestBytes, which readBody refuses unread, gets the smallest large
// buffer rather than one of the size the client announced. bodyWeight
// counts the same buffer. Give it back with putBuf.
func (h *Handler) getBuf(n int64) *[]byte {
	if n >= 0 && n < smallBuf {
		if b, ok := h.smallBufs.Get().(*[]byte); ok {
			return b
		}
		b := make([]byte, 0, smallBuf)
		return &b
	}
	if n > h.cfg.MaxRequestBytes {
		n = -1
	}
	if n >= 0 {
		n++
	}
	if n <= bufpool.MaxSize {
		return h.large.Get(int(n))
	}
	b := make([]byte, 0, n)
	return &b
}

// putBuf gives b back; data is what the caller last held in it (its
// storage, if grown, is kept for a small buffer).
func (h *Handler) putBuf(b *[]byte, data []byte) {
	if cap(*b) >= largeBuf && h.large.Put(b) {
		return
	}
	if c := cap(data); c >= smallBuf && c < largeBuf {
		*b = data[:0]
		h.smallBufs.Put(b)
	}
}

// requestLogOn reports whether l writes info lines, the level of the
// per-request log line.
func requestLogOn(l zerolog.Logger) bool {
	e := l.Info()
	on := e.Enabled()
	e.Discard()
	return on
}
