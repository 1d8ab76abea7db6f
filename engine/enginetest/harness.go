// Package enginetest is the conformance suite every engine.Engine
// implementation runs from its own tests:
//
//	func TestConformance(t *testing.T) {
//		enginetest.Run(t, enginetest.Harness{
//			New:       func(cfg engine.Config) (engine.Engine, error) { return New(cfg) },
//			Upstreams: []string{"h1", "h1tls"},
//		})
//	}
//
// The suite starts its own upstream servers on 127.0.0.1 (plain HTTP/1.1,
// TLS HTTP/1.1 only, cleartext HTTP/2 with prior knowledge, TLS with h2 via
// ALPN) with an in-process test CA, and checks the contract documented on
// engine.Engine over real sockets.
package enginetest

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/engine"
	"go.uber.org/goleak"
)

// Harness describes the engine under test.
type Harness struct {
	// New builds the engine under test from cfg (cfg has been through Defaults()).
	New func(cfg engine.Config) (engine.Engine, error)
	// Upstreams lists the upstream kinds the engine must pass against:
	// "h1" (plain HTTP/1.1), "h1tls" (TLS, HTTP/1.1 only), "h2c" (cleartext HTTP/2 prior knowledge,
	// the engine is built with cfg.H2C=true), "h2tls" (TLS offering h2 via ALPN, cfg.HTTP2=true).
	// For TLS kinds the suite puts a RootCAs pool trusting its own test CA in cfg.TLS.
	Upstreams []string
	// WantProto maps an upstream kind to the protocol the upstream must observe ("HTTP/1.1", "HTTP/2.0").
	WantProto map[string]string
}

// waitLimit bounds every wait in the suite so that a broken engine fails a
// test instead of hanging it. It is a safety net, never an assertion on speed.
const waitLimit = 10 * time.Second

// suite is the state shared by the subtests of one Run.
type suite struct {
	h  Harness
	ca *testCA

	bigOnce         sync.Once
	bigReq, bigResp []byte
}

// Run runs the conformance suite for every upstream kind in h.Upstreams.
// After all subtests (and their engines and upstreams) are closed it checks
// that no goroutine started during the run is left behind.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("enginetest: Harness.New is nil")
	}
	if len(h.Upstreams) == 0 {
		t.Fatal("enginetest: Harness.Upstreams is empty")
	}
	ignore := goleak.IgnoreCurrent()
	s := &suite{h: h, ca: newTestCA(t)}
	for _, kind := range h.Upstreams {
		t.Run(kind, func(t *testing.T) { s.runKind(t, kind) })
	}
	if err := goleak.Find(append([]goleak.Option{ignore}, libraryIdlers...)...); err != nil {
		t.Errorf("goroutines left after all engines and upstreams were closed: %v", err)
	}
}

// libraryIdlers are library goroutines that outlive an engine's Close by
// design and hold nothing: fasthttp's per-host connsCleaner sleeps out its
// MaxIdleConnDuration after the idle connections were closed, then exits,
// and fasthttp offers no way to stop it early.
var libraryIdlers = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
}

func (s *suite) runKind(t *testing.T, kind string) {
	tests := []struct {
		name string
		fn   func(t *testing.T, kind string)
	}{
		{"Unary", s.testUnary},
		{"Non2xx", s.testNon2xx},
		{"Headers", s.testHeaders},
		{"LargeResponseHead", s.testLargeResponseHead},
		{"CancelPoolWait", s.testCancelPoolWait},
		{"Proto", s.testProto},
		{"LargeBodies", s.testLargeBodies},
		{"BodyNotRetained", s.testBodyNotRetained},
		{"Stream", s.testStream},
		{"CancelHeaderWait", s.testCancelHeaderWait},
		{"CancelMidBody", s.testCancelMidBody},
		{"CloseBeforeEOF", s.testCloseBeforeEOF},
		{"Truncated", s.testTruncated},
		{"ConnReuse", s.testConnReuse},
		{"Compression", s.testCompression},
		{"CompressedStream", s.testCompressedStream},
		{"CompressionPassthrough", s.testCompressionPassthrough},
		{"UnknownCoding", s.testUnknownCoding},
		{"CodedEmptyBody", s.testCodedEmptyBody},
		{"Parallel", s.testParallel},
		{"HeaderTimeout", s.testHeaderTimeout},
		{"IdleReadTimeout", s.testIdleReadTimeout},
		{"LongStreamNotCut", s.testLongStreamNotCut},
		{"CloseEngineInFlight", s.testCloseEngineInFlight},
		{"UserAgent", s.testUserAgent},
		{"CancelDuringConnect", s.testCancelDuringConnect},
		{"CancelDuringTLSHandshake", s.testCancelDuringTLSHandshake},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, kind) })
	}
}

// wantProto is the protocol the upstream of kind must observe.
func (s *suite) wantProto(kind string) string {
	if p, ok := s.h.WantProto[kind]; ok {
		return p
	}
	if kind == KindH2C || kind == KindH2TLS {
		return "HTTP/2.0"
	}
	return "HTTP/1.1"
}

// newEngine builds the engine under test for kind; mut (may be nil) adjusts
// the configuration before Defaults. The engine is closed by t.Cleanup.
func (s *suite) newEngine(t *testing.T, kind string, mut func(*engine.Config)) engine.Engine {
	t.Helper()
	cfg := engine.NewConfig()
	if kind == KindH2C {
		cfg.H2C = true
	}
	if isTLS(kind) {
		cfg.TLS = &tls.Config{RootCAs: s.ca.pool}
	}
	if mut != nil {
		mut(&cfg)
	}
	e, err := s.h.New(cfg.Defaults())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("engine Close: %v", err)
		}
	})
	return e
}

// handler is an upstream handler; u gives it the upstream's done channel.
type handler func(u *upstream, w http.ResponseWriter, r *http.Request)

// setup starts an upstream of kind serving h and an engine for it. The
// engine is closed before the upstream.
func (s *suite) setup(t *testing.T, kind string, mut func(*engine.Config), h handler) (*upstream, engine.Engine) {
	t.Helper()
	u := newUpstream(t, s.ca, kind, h)
	return u, s.newEngine(t, kind, mut)
}

// testCtx returns a context bounded by waitLimit.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// wait fails the test if ch is not closed within waitLimit.
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// do sends req and fails the test on error.
func do(t *testing.T, e engine.Engine, ctx context.Context, req *engine.Request) *engine.Response {
	t.Helper()
	resp, err := e.Do(ctx, req)
	if err != nil {
		t.Fatalf("Do %s %s: %v", req.Method, req.URL, err)
	}
	if resp == nil || resp.Body == nil {
		t.Fatalf("Do returned nil response or body")
	}
	return resp
}

// readBody reads and closes resp.Body, failing the test on error.
func readBody(t *testing.T, resp *engine.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v (after %d bytes)", err, len(b))
	}
	return b
}

// readEvent reads one SSE event (up to and including the blank line).
func readEvent(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		line, err := br.ReadString('\n')
		sb.WriteString(line)
		if err != nil {
			return sb.String(), err
		}
		if line == "\n" {
			return sb.String(), nil
		}
	}
}

// flush flushes w, which every test upstream supports.
func flush(w http.ResponseWriter) {
	_ = http.NewResponseController(w).Flush()
}
