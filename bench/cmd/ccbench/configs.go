package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/bench/report"
)

// benchConfig is one compared configuration: a ccproxy environment and the
// upstream protocol it talks, or direct (no proxy), or the bare hop.
type benchConfig struct {
	Name        string
	Description string
	Upstream    fakeupstream.Protocol
	Env         []string
	Direct      bool
	// Hop runs bench/cmd/hop (a bare httputil.ReverseProxy) instead of
	// ccproxy, driven with the direct workloads: a reference, not targeted.
	Hop bool
	// Targeted configurations are checked against the targets.
	Targeted bool
}

// knownConfigs are the configurations the harness knows, in column order.
func knownConfigs() []benchConfig {
	return []benchConfig{
		{Name: "naive", Upstream: fakeupstream.H1,
			Description: "net/http as a default client: HTTP/1.1, 2 idle connections per host, no tuning (the guide's \"before\")",
			Env:         []string{"ENGINE=nethttp", "HTTP2_ENABLED=false", "MAX_KEEPALIVE_CONNECTIONS=2"}},
		{Name: "nethttp-h1", Upstream: fakeupstream.H1, Targeted: true,
			Description: "net/http engine, HTTP/1.1, tuned pool (50 idle connections)",
			Env:         []string{"ENGINE=nethttp", "HTTP2_ENABLED=false"}},
		{Name: "nethttp-h2", Upstream: fakeupstream.TLS, Targeted: true,
			Description: "net/http engine, HTTP/2 over TLS (ALPN h2) to a TLS upstream",
			Env:         []string{"ENGINE=nethttp", "HTTP2_ENABLED=true"}},
		{Name: "nethttp-h2c", Upstream: fakeupstream.H2C, Targeted: true,
			Description: "net/http engine, cleartext HTTP/2 with prior knowledge",
			Env:         []string{"ENGINE=nethttp", "HTTP2_ENABLED=true", "UPSTREAM_H2C=true"}},
		{Name: "fasthttp", Upstream: fakeupstream.H1, Targeted: true,
			Description: "fasthttp engine, HTTP/1.1, tuned pool (50 idle connections)",
			Env:         []string{"ENGINE=fasthttp"}},
		{Name: report.Hop, Upstream: fakeupstream.H1, Hop: true,
			Description: "reference: a bare Go httputil.ReverseProxy (bench/cmd/hop, HTTP/1.1, 256 idle connections) that translates nothing, sent the direct requests; its CPU and RSS are in the ccproxy rows: what any Go proxy process costs"},
		{Name: report.Direct, Upstream: fakeupstream.H1, Direct: true,
			Description: "load client straight at the fake upstream, no proxy (W2 sends the already-translated body): the physical limit"},
	}
}

// selectConfigs resolves a comma-separated list of configuration names.
// A name that is not known is taken as an experimental engine name and
// run as ENGINE=<name> over HTTP/1.1.
func selectConfigs(list string) ([]benchConfig, error) {
	known := knownConfigs()
	var out []benchConfig
	seen := map[string]bool{}
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		found := false
		for _, c := range known {
			if c.Name == name {
				out = append(out, c)
				found = true
			}
		}
		if !found {
			out = append(out, benchConfig{Name: name, Upstream: fakeupstream.H1, Targeted: true,
				Description: fmt.Sprintf("experimental engine %q, HTTP/1.1", name),
				Env:         []string{"ENGINE=" + name}})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no configuration selected")
	}
	return out, nil
}

// addProxyEnv appends the comma-separated KEY=VALUE pairs of list to the
// environment of every ccproxy configuration (not direct, not the hop: the
// hop stays a fixed reference).
func addProxyEnv(cfgs []benchConfig, list string) error {
	var extra []string
	for kv := range strings.SplitSeq(list, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("-proxy-env: %q is not KEY=VALUE", kv)
		}
		extra = append(extra, kv)
	}
	for i := range cfgs {
		if !cfgs[i].Direct && !cfgs[i].Hop {
			cfgs[i].Env = append(slices.Clip(cfgs[i].Env), extra...)
		}
	}
	return nil
}

// upstreams holds one fake upstream per protocol in use.
type upstreams struct {
	byProto map[fakeupstream.Protocol]*fakeupstream.Server
	caFile  string
}

func startUpstreams(cfgs []benchConfig, tmp string, opts fakeupstream.Options) (*upstreams, error) {
	u := &upstreams{byProto: map[fakeupstream.Protocol]*fakeupstream.Server{}}
	need := map[fakeupstream.Protocol]bool{fakeupstream.H1: true} // W2 capture and direct
	for _, c := range cfgs {
		need[c.Upstream] = true
	}
	for _, p := range []fakeupstream.Protocol{fakeupstream.H1, fakeupstream.H2C, fakeupstream.TLS} {
		if !need[p] {
			continue
		}
		o := opts
		o.Protocol = p
		s, err := fakeupstream.Start(o)
		if err != nil {
			u.Close()
			return nil, fmt.Errorf("start %s upstream: %w", p, err)
		}
		u.byProto[p] = s
		if p == fakeupstream.TLS {
			u.caFile = filepath.Join(tmp, "upstream-ca.pem")
			if err := os.WriteFile(u.caFile, s.CAPEM(), 0o644); err != nil {
				u.Close()
				return nil, err
			}
		}
	}
	return u, nil
}

// SetOptions applies fn to every upstream.
func (u *upstreams) SetOptions(fn func(*fakeupstream.Options)) {
	for _, s := range u.byProto {
		s.SetOptions(fn)
	}
}

// Close stops every upstream.
func (u *upstreams) Close() {
	for _, s := range u.byProto {
		s.Close()
	}
}

// proxyEnv is the ccproxy environment for cfg talking to baseURL (which
// includes /v1).
func (u *upstreams) proxyEnv(cfg benchConfig, baseURL, logLevel string) []string {
	env := []string{
		"OPENAI_BASE_URL=" + baseURL,
		"OPENAI_API_KEY=bench-upstream-key",
		"LOG_LEVEL=" + logLevel,
		// Above 1,000 so the open-streams scenario is not capped by the
		// pool; it changes nothing at the lower concurrencies used elsewhere.
		"MAX_CONNECTIONS=1100",
	}
	if cfg.Upstream == fakeupstream.TLS {
		env = append(env, "SSL_CERT_FILE="+u.caFile)
	}
	return append(env, cfg.Env...)
}
