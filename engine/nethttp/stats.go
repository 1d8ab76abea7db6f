package nethttp

import "github.com/ccproxy/ccproxy/engine"

// PoolStats reports the engine's connections. Open and Created are exact
// (counted at dial and close). Reused is derived: responses obtained minus
// connections dialed. InUse is the number of requests in flight, capped at
// Open (exact for HTTP/1.1; with HTTP/2 many requests share one
// connection, so it is an upper bound), and Idle is Open minus InUse. No
// per-request tracing is used, so the hot path pays nothing for these.
func (e *Engine) PoolStats() engine.PoolStats {
	open := int(e.open.Load())
	inUse := min(int(e.inflight.Load()), open)
	created := e.created.Load()
	return engine.PoolStats{
		Open:    open,
		Idle:    open - inUse,
		InUse:   inUse,
		Created: created,
		Reused:  max(0, e.heads.Load()-created),
		Waits:   e.waits.Load(),
	}
}

// Describe reports the effective settings.
func (e *Engine) Describe() map[string]any {
	c := e.cfg
	protos := []string{"HTTP/1.1"}
	if c.HTTP2 {
		protos = append(protos, "h2 (TLS, ALPN)")
	}
	if c.H2C {
		protos = append(protos, "h2c (prior knowledge for http://)")
	}
	return map[string]any{
		"engine":                  Name,
		"protocols":               protos,
		"max_idle_conns_per_host": c.MaxIdleConnsPerHost,
		"max_conns_per_host":      c.MaxConnsPerHost,
		"idle_conn_timeout":       c.IdleConnTimeout.String(),
		"dial_timeout":            c.DialTimeout.String(),
		"response_header_timeout": c.ResponseHeaderTimeout.String(),
		"idle_read_timeout":       c.IdleReadTimeout.String(),
		"write_timeout":           c.WriteTimeout.String() + " (per write)",
		"pool_timeout":            c.PoolTimeout.String() + " (HTTP/1.1)",
		"h2_ping_interval":        c.PingInterval.String(),
		"h2_ping_timeout":         c.PingTimeout.String(),
		"proxy":                   c.Proxy != nil,
		"custom_tls":              c.TLS != nil,
	}
}
