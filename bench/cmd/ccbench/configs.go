package main

import (
	"errors"
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
	// InProc (with Direct) sends the load to a fake upstream inside
	// ccbench's own process instead of the child process: the old
	// baseline, kept as a reference.
	InProc bool
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
		{Name: "fasthttp-tls", Upstream: fakeupstream.TLS, Targeted: true,
			Description: "fasthttp engine, HTTP/1.1 over TLS to the TLS upstream (fasthttp has no HTTP/2 client): the https alternative to nethttp-h2",
			Env:         []string{"ENGINE=fasthttp"}},
		{Name: report.Hop, Upstream: fakeupstream.H1, Hop: true,
			Description: "reference: a bare Go httputil.ReverseProxy (bench/cmd/hop, HTTP/1.1, 256 idle connections) that translates nothing, sent the direct requests; its CPU and RSS are in the ccproxy rows: what any Go proxy process costs"},
		{Name: report.Direct, Upstream: fakeupstream.H1, Direct: true,
			Description: "load client straight at the fake upstream (its own process, bench/cmd/fakeupstream), no proxy (W2 sends the already-translated body): the physical limit; the targets' reference"},
		{Name: report.DirectInProc, Upstream: fakeupstream.H1, Direct: true, InProc: true,
			Description: directInProcDescription},
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

// directInProcDescription describes the direct-inproc reference.
const directInProcDescription = "reference, not targeted: the load client straight at an H1 fake upstream inside ccbench's own process: " +
	"no process boundary, faster than any real client/upstream pair; the baseline (\"direct\") before " + inProcBaselineBefore

// inProcBaselineBefore is the commit from which direct's upstream runs as
// its own process: before it, direct was what direct-inproc is.
const inProcBaselineBefore = "6932d8b"

// upstream is a fake upstream the harness drives: a child process
// (*fakeupstream.Child, every configuration's) or, for direct-inproc, one
// inside ccbench (inproc).
type upstream interface {
	// URL is the base URL without /v1.
	URL() string
	Addr() string
	CAPEM() []byte
	SetOptions(fn func(*fakeupstream.Options)) error
	Stats() (fakeupstream.Stats, error)
	LastRequest() (fakeupstream.Recorded, error)
	Close()
}

// inproc is a fake upstream in ccbench's own process (direct-inproc).
type inproc struct{ s *fakeupstream.Server }

func (u inproc) URL() string   { return u.s.URL }
func (u inproc) Addr() string  { return u.s.Addr() }
func (u inproc) CAPEM() []byte { return u.s.CAPEM() }
func (u inproc) Close()        { u.s.Close() }
func (u inproc) SetOptions(fn func(*fakeupstream.Options)) error {
	u.s.SetOptions(fn)
	return nil
}
func (u inproc) Stats() (fakeupstream.Stats, error)          { return u.s.Stats(), nil }
func (u inproc) LastRequest() (fakeupstream.Recorded, error) { return u.s.LastRequest(), nil }

// upstreams holds one fake upstream child process per protocol in use,
// and the in-process one when direct-inproc is selected.
type upstreams struct {
	byProto map[fakeupstream.Protocol]upstream
	inproc  upstream // nil unless a configuration is InProc
	caFile  string
}

// startUpstreams spawns bin (bench/cmd/fakeupstream) once per protocol the
// configurations need (H1 always: the W2 capture and direct), and starts
// the in-process H1 upstream when a configuration is InProc.
func startUpstreams(cfgs []benchConfig, tmp, bin string, opts fakeupstream.Options) (*upstreams, error) {
	u := &upstreams{byProto: map[fakeupstream.Protocol]upstream{}}
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
		ch, err := fakeupstream.Spawn(bin, o)
		if err != nil {
			u.Close()
			return nil, fmt.Errorf("start %s upstream: %w", p, err)
		}
		u.byProto[p] = ch
		if p == fakeupstream.TLS {
			u.caFile = filepath.Join(tmp, "upstream-ca.pem")
			if err := os.WriteFile(u.caFile, ch.CAPEM(), 0o644); err != nil {
				u.Close()
				return nil, err
			}
		}
	}
	if slices.ContainsFunc(cfgs, func(c benchConfig) bool { return c.InProc }) {
		o := opts
		o.Protocol = fakeupstream.H1
		s, err := fakeupstream.Start(o)
		if err != nil {
			u.Close()
			return nil, fmt.Errorf("start the in-process upstream: %w", err)
		}
		u.inproc = inproc{s}
	}
	return u, nil
}

// forConfig returns the upstream configuration c talks to (nil if none).
func (u *upstreams) forConfig(c benchConfig) upstream {
	if c.InProc {
		return u.inproc
	}
	return u.byProto[c.Upstream]
}

// all returns every upstream.
func (u *upstreams) all() []upstream {
	var out []upstream
	for _, p := range []fakeupstream.Protocol{fakeupstream.H1, fakeupstream.H2C, fakeupstream.TLS} {
		if up := u.byProto[p]; up != nil {
			out = append(out, up)
		}
	}
	if u.inproc != nil {
		out = append(out, u.inproc)
	}
	return out
}

// SetOptions applies fn to every upstream.
func (u *upstreams) SetOptions(fn func(*fakeupstream.Options)) error {
	var errs []error
	for _, up := range u.all() {
		errs = append(errs, up.SetOptions(fn))
	}
	return errors.Join(errs...)
}

// exited returns an error naming every child upstream that has exited, with
// how and the end of its log, or nil while all of them run (and for nil u).
// Every measurement after a child's death is void: its clients' requests
// fail, so it must stop the run rather than end up as notes of failed
// requests and rows missing from the report.
func (u *upstreams) exited() error {
	if u == nil {
		return nil
	}
	var errs []error
	for _, p := range []fakeupstream.Protocol{fakeupstream.H1, fakeupstream.H2C, fakeupstream.TLS} {
		ch, ok := u.byProto[p].(*fakeupstream.Child)
		if !ok {
			continue
		}
		select {
		case <-ch.Done():
			errs = append(errs, fmt.Errorf("the %s fake upstream (pid %d) exited during the run (%v): %s", p, ch.Pid(), ch.ExitErr(), logEnd(ch.LogTail(), 1000)))
		default:
		}
	}
	return errors.Join(errs...)
}

// logEnd returns the last n bytes of log, "(no output)" when it is empty.
func logEnd(log string, n int) string {
	if log == "" {
		return "(no output)"
	}
	if len(log) > n {
		return "…" + log[len(log)-n:]
	}
	return log
}

// Close stops every upstream (the child processes exit).
func (u *upstreams) Close() {
	for _, up := range u.all() {
		up.Close()
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
