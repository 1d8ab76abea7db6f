package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/engine"
	_ "github.com/ccproxy/ccproxy/engine/fasthttp"
	_ "github.com/ccproxy/ccproxy/engine/nethttp"
	"github.com/ccproxy/ccproxy/proxy/metrics"
	"github.com/ccproxy/ccproxy/proxy/toopenai"
)

// rig is ccproxy (through httptest) in front of the project's fake
// upstream, with one engine.
type rig struct {
	URL     string
	Up      *fakeupstream.Server
	H       *Handler
	Metrics *metrics.Metrics
	logw    *lockedWriter
}

const upstreamSecret = "sk-upstream-secret-123456"

func newRig(t *testing.T, engineName string, uo fakeupstream.Options, mod func(*Config, *engine.Config)) *rig {
	t.Helper()
	up, err := fakeupstream.Start(uo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	r := newRigFor(t, engineName, up.URL, func(c *Config, ec *engine.Config) {
		if uo.Protocol == fakeupstream.H2C {
			ec.H2C = true
		}
		if uo.Protocol == fakeupstream.TLS {
			ec.TLS = up.ClientTLS()
		}
		if mod != nil {
			mod(c, ec)
		}
	}, nil)
	r.Up = up
	return r
}

// newRigFor is newRig for any upstream at upURL (no /v1); ln, when not
// nil, is the listener the proxy serves on. Its server derives its
// requests from the Handler's BaseContext, as cmd/ccproxy's does.
func newRigFor(t *testing.T, engineName, upURL string, mod func(*Config, *engine.Config), ln net.Listener) *rig {
	t.Helper()
	return newRigBase(t, engineName, upURL, mod, ln, true)
}

// newRigBase is newRigFor with or without the Handler's BaseContext on
// the server (without: Stop reaches each request through the context it
// registers).
func newRigBase(t *testing.T, engineName, upURL string, mod func(*Config, *engine.Config), ln net.Listener, baseContext bool) *rig {
	t.Helper()
	ec := engine.NewConfig()
	models, err := toopenai.NewModels(toopenai.ModelsConfig{Big: "gpt-4.1", Small: "gpt-4.1-mini"})
	if err != nil {
		t.Fatal(err)
	}
	logw := &lockedWriter{w: &bytes.Buffer{}}
	cfg := Config{
		EngineName:     engineName,
		UpstreamURL:    upURL + "/v1",
		UpstreamKey:    upstreamSecret,
		Models:         models,
		RetryBaseDelay: time.Millisecond,
		RetryMaxDelay:  5 * time.Millisecond,
		Logger:         zerolog.New(logw).Level(zerolog.DebugLevel),
	}
	if mod != nil {
		mod(&cfg, &ec)
	}
	eng, err := engine.New(engineName, ec.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	info := metrics.Info{Version: "test", Engine: engineName, Models: models.Names()}
	info.FromEngine(eng)
	m := metrics.New(info)
	cfg.Engine, cfg.Metrics = eng, m
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	if baseContext {
		srv.Config.BaseContext = h.BaseContext
	}
	srv.Config.ConnContext = h.ConnContext
	if ln != nil {
		srv.Listener.Close()
		srv.Listener = ln
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return &rig{URL: srv.URL, H: h, Metrics: m, logw: logw}
}

// lockedWriter makes a bytes.Buffer safe for the logger's concurrent use.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (r *rig) logs() string {
	lw := r.logw
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.String()
}

// engines lists the engines every behaviour test runs against.
func engines() []string { return engine.Names() }

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post sends body to path with the usual Claude Code headers.
func post(t testing.TB, url, path string, body []byte, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	req.Header.Set("x-api-key", "sk-client-key-should-not-leak")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

type sseEvent struct {
	Name string
	Data string
}

// readEvents reads a whole SSE response body.
func readEvents(t testing.TB, r io.Reader) []sseEvent {
	t.Helper()
	var evs []sseEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.Name != "" || cur.Data != "" {
				evs = append(evs, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event:"):
			cur.Name = strings.TrimSpace(line[6:])
		case strings.HasPrefix(line, "data:"):
			cur.Data += strings.TrimSpace(line[5:])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading SSE: %v", err)
	}
	return evs
}

// checkGrammar asserts Anthropic's event grammar and returns the events'
// decoded data.
func checkGrammar(t testing.TB, evs []sseEvent) []map[string]any {
	t.Helper()
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	var out []map[string]any
	open := -1
	next := 0
	sawDelta := false
	for i, ev := range evs {
		var m map[string]any
		if err := json.Unmarshal([]byte(ev.Data), &m); err != nil {
			t.Fatalf("event %d (%s) data is not JSON: %v: %s", i, ev.Name, err, ev.Data)
		}
		if m["type"] != ev.Name {
			t.Fatalf("event %d: name %q but data type %v", i, ev.Name, m["type"])
		}
		out = append(out, m)
		switch ev.Name {
		case "message_start":
			if i != 0 {
				t.Fatalf("message_start at %d", i)
			}
		case "content_block_start":
			if open != -1 {
				t.Fatalf("block %d started while %d open", next, open)
			}
			if int(m["index"].(float64)) != next {
				t.Fatalf("block index %v, want %d", m["index"], next)
			}
			open = next
			next++
		case "content_block_delta":
			if int(m["index"].(float64)) != open {
				t.Fatalf("delta for %v while %d open", m["index"], open)
			}
		case "content_block_stop":
			if int(m["index"].(float64)) != open {
				t.Fatalf("stop for %v while %d open", m["index"], open)
			}
			open = -1
		case "message_delta":
			if open != -1 || sawDelta {
				t.Fatalf("message_delta with block open or twice")
			}
			sawDelta = true
		case "message_stop":
			if i != len(evs)-1 {
				t.Fatalf("message_stop at %d of %d", i, len(evs))
			}
		case "ping", "error":
		default:
			t.Fatalf("unknown event %q", ev.Name)
		}
	}
	if evs[0].Name != "message_start" || evs[len(evs)-1].Name != "message_stop" {
		t.Fatalf("stream must start with message_start and end with message_stop: %v ... %v", evs[0].Name, evs[len(evs)-1].Name)
	}
	return out
}

func names(evs []sseEvent) []string {
	var n []string
	for _, e := range evs {
		n = append(n, e.Name)
	}
	return n
}

// errorBody decodes an Anthropic error envelope and fails if the shape is wrong.
func errorBody(t testing.TB, resp *http.Response) (typ, msg string) {
	t.Helper()
	defer resp.Body.Close()
	var e struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &e); err != nil || e.Type != "error" || e.Error.Type == "" || e.Error.Message == "" {
		t.Fatalf("not an Anthropic error envelope (status %d): %s", resp.StatusCode, b)
	}
	return e.Error.Type, e.Error.Message
}

// wantOverloaded checks an overloaded_error answer: status, a Retry-After
// header and the Anthropic error type.
func wantOverloaded(t testing.TB, resp *http.Response, status int) {
	t.Helper()
	if resp.StatusCode != status || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want %d with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), status)
	}
	if typ, _ := errorBody(t, resp); typ != errOverloaded {
		t.Fatalf("error type %s, want %s", typ, errOverloaded)
	}
}

// h2cFront serves h over h2c and returns its URL and an h2c client. A
// *Handler is served with its BaseContext, as cmd/ccproxy does.
func h2cFront(t *testing.T, h http.Handler) (string, *http.Client) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	if ph, ok := h.(*Handler); ok {
		srv.Config.BaseContext = ph.BaseContext
	}
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	return srv.URL, &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// frontEnd is one way to reach a rig's handler: its protocol, base URL and
// a client for it.
type frontEnd struct {
	name, url string
	client    *http.Client
}

// frontEnds serves r's handler over HTTP/1.1 (the rig's own server) and
// h2c, for tests that must hold on both.
func frontEnds(t *testing.T, r *rig) []frontEnd {
	t.Helper()
	h2cURL, h2cClient := h2cFront(t, r.H)
	return []frontEnd{{"HTTP/1.1", r.URL, &http.Client{Timeout: 20 * time.Second}}, {"h2c", h2cURL, h2cClient}}
}

// wantMessageStop reads resp (nil: the request failed and said so) and
// fails the test, naming what, unless it is a 200 whose body reaches
// message_stop.
func wantMessageStop(t testing.TB, resp *http.Response, what string) {
	t.Helper()
	if resp == nil {
		t.FailNow()
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(out), "message_stop") {
		t.Fatalf("%s: status %d, body %.300q", what, resp.StatusCode, out)
	}
}
