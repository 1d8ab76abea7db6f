package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpproxy"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/proxy"
	"github.com/ccproxy/ccproxy/proxy/toopenai"
)

// config is everything ccproxy reads from its environment.
type config struct {
	Host, Port     string
	Engine         string
	EngineSource   string // "env" or "default"
	Demo           bool
	LogLevel       string
	LogFormat      string
	PprofAddr      string
	ShutdownGrace  time.Duration
	AllowNoAuth    bool
	EngineConfig   engine.Config
	Proxy          proxy.Config
	ModelsConfig   toopenai.ModelsConfig
	CertFile       string
	ProxyFromEnv   bool
	UpstreamWarmup bool
}

// envReader reads typed values and collects every error, so one start-up
// reports all bad variables at once.
type envReader struct {
	get  func(string) string
	errs []error
}

func (e *envReader) str(k, def string) string {
	if v := strings.TrimSpace(e.get(k)); v != "" {
		return v
	}
	return def
}

func (e *envReader) boolean(k string, def bool) bool {
	v := strings.TrimSpace(e.get(k))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want true or false", k, v))
		return def
	}
	return b
}

func (e *envReader) integer(k string, def int) int {
	v := strings.TrimSpace(e.get(k))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a whole number >= 0", k, v))
		return def
	}
	return n
}

// duration accepts seconds ("120", "0.5") or a Go duration ("2m", "500ms").
func (e *envReader) duration(k string, def time.Duration) time.Duration {
	v := strings.TrimSpace(e.get(k))
	if v == "" {
		return def
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		// NaN and anything past time.Duration's range (inf, 1e10) would
		// convert to a negative duration, which the engine then silently
		// replaces with its default.
		if f >= 0 && f <= maxSeconds {
			return time.Duration(f * float64(time.Second))
		}
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want seconds between 0 and %.0f, or a duration (e.g. 2m)", k, v, maxSeconds))
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want seconds (e.g. 120) or a duration (e.g. 2m)", k, v))
		return def
	}
	return d
}

// list splits v, a comma-separated list, trimming spaces around each
// element; an empty element (",," or a trailing comma) is an error that
// names its place, never the values (they may be keys). "" is no list.
func (e *envReader) list(k, v string) []string {
	if v == "" {
		return nil
	}
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
		if parts[i] == "" {
			e.errs = append(e.errs, fmt.Errorf("%s: element %d of its %d comma-separated values is empty", k, i+1, len(parts)))
			return nil
		}
	}
	return parts
}

// fallbacks reads MODEL_FALLBACKS: "model=alt1|alt2,other=alt3", for
// each upstream model the models to try in turn when it fails.
func (e *envReader) fallbacks(k string) map[string][]string {
	v := e.str(k, "")
	if v == "" {
		return nil
	}
	m := make(map[string][]string)
	for _, entry := range strings.Split(v, ",") {
		model, alts, ok := strings.Cut(entry, "=")
		model = strings.TrimSpace(model)
		if !ok || model == "" {
			e.errs = append(e.errs, fmt.Errorf("%s: %q: want model=fallback|fallback (e.g. gpt-5=gpt-4.1|gpt-4.1-mini)", k, strings.TrimSpace(entry)))
			continue
		}
		if _, dup := m[model]; dup {
			e.errs = append(e.errs, fmt.Errorf("%s: %s is listed twice", k, model))
			continue
		}
		var list []string
		for _, a := range strings.Split(alts, "|") {
			if a = strings.TrimSpace(a); a == "" {
				e.errs = append(e.errs, fmt.Errorf("%s: %s has an empty fallback model", k, model))
				list = nil
				break
			}
			if a == model {
				e.errs = append(e.errs, fmt.Errorf("%s: %s falls back to itself", k, model))
				list = nil
				break
			}
			if slices.Contains(list, a) {
				e.errs = append(e.errs, fmt.Errorf("%s: %s lists %s twice", k, model, a))
				list = nil
				break
			}
			list = append(list, a)
		}
		if list != nil {
			m[model] = list
		}
	}
	return m
}

// outputLimits reads MODEL_MAX_OUTPUT_TOKENS: "prefix=tokens,..." (e.g.
// qwen3-coder=65536,glm-4.6=32768), the most max_tokens each upstream
// model accepts, matched by the longest prefix as the built-in table is.
func (e *envReader) outputLimits(k string) map[string]int {
	v := e.str(k, "")
	if v == "" {
		return nil
	}
	m := make(map[string]int)
	for _, entry := range strings.Split(v, ",") {
		prefix, tokens, ok := strings.Cut(entry, "=")
		prefix, tokens = strings.TrimSpace(prefix), strings.TrimSpace(tokens)
		n, err := strconv.Atoi(tokens)
		if !ok || prefix == "" || err != nil || n < 1 {
			e.errs = append(e.errs, fmt.Errorf("%s: %q: want model-prefix=tokens with tokens a whole number from 1 (e.g. qwen3-coder=65536,glm-4.6=32768)", k, strings.TrimSpace(entry)))
			continue
		}
		key := strings.ToLower(prefix)
		if _, dup := m[key]; dup {
			e.errs = append(e.errs, fmt.Errorf("%s: %s is listed twice", k, prefix))
			continue
		}
		m[key] = n
	}
	return m
}

// maxSeconds is the longest duration in seconds time.Duration holds
// (about 292 years), rounded down.
const maxSeconds = float64(math.MaxInt64/int64(time.Second)) - 1

// port checks a listen port: a number from 0 (any free port) to 65535.
func (e *envReader) port(k, def string) string {
	v := e.str(k, def)
	if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 65535 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a port number from 0 to 65535", k, v))
	}
	return v
}

// loadConfig reads the environment through get.
func loadConfig(get func(string) string) (*config, error) {
	e := &envReader{get: get}
	c := &config{
		Host:          e.str("HOST", "127.0.0.1"),
		Port:          e.port("PORT", "11434"),
		LogLevel:      e.str("LOG_LEVEL", "info"),
		LogFormat:     strings.ToLower(e.str("LOG_FORMAT", "")),
		PprofAddr:     e.str("PPROF_ADDR", ""),
		ShutdownGrace: e.duration("SHUTDOWN_GRACE", 30*time.Second),
		AllowNoAuth:   e.boolean("ALLOW_UNAUTHENTICATED", false),
		CertFile:      e.str("SSL_CERT_FILE", ""),
	}
	c.Engine, c.EngineSource = e.str("ENGINE", ""), "env"
	if c.Engine == "" {
		c.Engine, c.EngineSource = defaultEngine, "default"
	}

	ec := engine.Config{
		HTTP2:                 e.boolean("HTTP2_ENABLED", true),
		H2C:                   e.boolean("UPSTREAM_H2C", false),
		MaxIdleConnsPerHost:   e.integer("MAX_KEEPALIVE_CONNECTIONS", engine.DefaultMaxIdleConnsPerHost),
		MaxConnsPerHost:       e.integer("MAX_CONNECTIONS", engine.DefaultMaxConnsPerHost),
		IdleConnTimeout:       e.duration("KEEPALIVE_EXPIRY", engine.DefaultIdleConnTimeout),
		DialTimeout:           e.duration("CONNECT_TIMEOUT", engine.DefaultDialTimeout),
		ResponseHeaderTimeout: e.duration("READ_TIMEOUT", engine.DefaultResponseHeaderTimeout),
		WriteTimeout:          e.duration("WRITE_TIMEOUT", engine.DefaultWriteTimeout),
		PoolTimeout:           e.duration("POOL_TIMEOUT", engine.DefaultPoolTimeout),
		PingInterval:          e.duration("HTTP2_PING_INTERVAL", engine.DefaultPingInterval),
		PingTimeout:           e.duration("HTTP2_PING_TIMEOUT", engine.DefaultPingTimeout),
	}
	ec.IdleReadTimeout = e.duration("STREAM_IDLE_TIMEOUT", ec.ResponseHeaderTimeout)
	if ec.H2C && !ec.HTTP2 {
		e.errs = append(e.errs, errors.New("UPSTREAM_H2C=true needs HTTP2_ENABLED=true"))
	}
	if c.CertFile != "" {
		pool, err := loadCA(c.CertFile)
		if err != nil {
			e.errs = append(e.errs, err)
		}
		ec.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	proxyEnv := httpproxy.FromEnvironment()
	proxyEnv.HTTPProxy = e.str("HTTP_PROXY", e.str("http_proxy", ""))
	proxyEnv.HTTPSProxy = e.str("HTTPS_PROXY", e.str("https_proxy", ""))
	proxyEnv.NoProxy = e.str("NO_PROXY", e.str("no_proxy", ""))
	if proxyEnv.HTTPProxy != "" || proxyEnv.HTTPSProxy != "" {
		pf := proxyEnv.ProxyFunc()
		ec.Proxy = func(u *url.URL) (*url.URL, error) { return pf(u) }
		c.ProxyFromEnv = true
	}
	c.EngineConfig = ec

	key := e.str("OPENAI_API_KEY", "")
	base := e.str("OPENAI_BASE_URL", "")
	c.Demo = e.boolean("DEMO", key == "" && base == "")
	if base == "" {
		base = "https://api.openai.com/v1"
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		e.errs = append(e.errs, fmt.Errorf("OPENAI_BASE_URL=%q: want an http:// or https:// URL", base))
	}
	upKeys := e.list("OPENAI_API_KEY", key)
	if len(upKeys) > proxy.MaxUpstreamKeys {
		// Counts only: the values are keys.
		e.errs = append(e.errs, fmt.Errorf("OPENAI_API_KEY: %d comma-separated keys, at most %d", len(upKeys), proxy.MaxUpstreamKeys))
	}
	fallbacks := e.fallbacks("MODEL_FALLBACKS")
	var apiKeys []string
	for _, k := range strings.Split(e.str("PROXY_API_KEY", ""), ",") {
		if k = strings.TrimSpace(k); k != "" {
			apiKeys = append(apiKeys, k)
		}
	}
	c.ModelsConfig = toopenai.ModelsConfig{
		Big:    e.str("BIG_MODEL_NAME", ""),
		Middle: e.str("MIDDLE_MODEL_NAME", ""),
		Small:  e.str("SMALL_MODEL_NAME", ""),
		Map:    e.str("MODEL_MAP", ""),

		MaxOutputTokens: e.outputLimits("MODEL_MAX_OUTPUT_TOKENS"),
	}
	for _, m := range strings.Split(e.str("REASONING_MODELS", ""), ",") {
		if m = strings.TrimSpace(m); m != "" {
			c.ModelsConfig.ReasoningModels = append(c.ModelsConfig.ReasoningModels, m)
		}
	}
	c.Proxy = proxy.Config{
		UpstreamURL:            base,
		UpstreamKeys:           upKeys,
		KeyBench:               e.duration("UPSTREAM_KEY_BENCH", 5*time.Minute),
		KeyRateLimitBench:      e.duration("UPSTREAM_KEY_RATE_LIMIT_BENCH", 10*time.Second),
		Fallbacks:              fallbacks,
		ReasoningReplay:        e.boolean("REASONING_REPLAY", false),
		PingInterval:           e.duration("PING_INTERVAL", 10*time.Second),
		MaxRequestBytes:        int64(e.integer("MAX_REQUEST_BYTES", 32<<20)),
		MaxBufferedBytes:       int64(e.integer("MAX_BUFFERED_BYTES", 16<<20)),
		MaxStreamDuration:      e.duration("MAX_STREAM_SECONDS", 0),
		DownstreamWriteTimeout: e.duration("CLIENT_WRITE_TIMEOUT", 30*time.Second),
		ClientReadTimeout:      e.duration("CLIENT_READ_TIMEOUT", 30*time.Second),
		MaxRetries:             e.integer("MAX_RETRIES", 2),
		RetryBaseDelay:         e.duration("RETRY_BASE_DELAY", 500*time.Millisecond),
		RetryMaxDelay:          e.duration("RETRY_MAX_DELAY", 8*time.Second),
		RetryAfterCap:          e.duration("RETRY_AFTER_MAX", 20*time.Second),
		BreakerThreshold:       e.integer("BREAKER_THRESHOLD", 5),
		BreakerCooldown:        e.duration("BREAKER_COOLDOWN", 30*time.Second),
		MaxConcurrent:          e.integer("MAX_CONCURRENT_REQUESTS", 0),
		QueueTimeout:           e.duration("QUEUE_TIMEOUT", 2*time.Second),
		APIKeys:                apiKeys,
	}
	if c.Proxy.MaxRetries == 0 {
		c.Proxy.MaxRetries = -1 // explicit MAX_RETRIES=0: no retries
	}
	if c.Proxy.MaxBufferedBytes == 0 {
		c.Proxy.MaxBufferedBytes = -1 // explicit 0: unlimited
	}
	if c.Proxy.BreakerThreshold == 0 {
		c.Proxy.BreakerThreshold = -1 // explicit 0: breaker off
	}
	if len(apiKeys) == 0 && !c.AllowNoAuth && !isLoopback(c.Host) {
		e.errs = append(e.errs, fmt.Errorf("HOST=%s is not a loopback address and PROXY_API_KEY is not set: "+
			"anyone who can reach this port could spend your upstream credits; set PROXY_API_KEY, "+
			"or ALLOW_UNAUTHENTICATED=true if that is really what you want", c.Host))
	}
	return c, errors.Join(e.errs...)
}

// loadCA returns the system roots plus the PEM certificates in path.
func loadCA(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("SSL_CERT_FILE: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("SSL_CERT_FILE=%s: no PEM certificate found", path)
	}
	return pool, nil
}

// isLoopback reports whether host only listens on the loopback interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
