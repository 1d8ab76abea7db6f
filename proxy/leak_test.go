package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/proxy/toopenai"
)

// TestMain makes every test in the package a goroutine-leak test: after
// the last test, no goroutine may be left but those below.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := findLeaks(processWide...); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// findLeaks is goleak.Find given up to 5 s: Find itself retries for about
// 430 ms, which goroutines ending after a Close (a connection's loops, a
// server's) can overrun on a loaded machine. A goroutine that really leaked
// is still there after 5 s.
func findLeaks(opts ...goleak.Option) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := goleak.Find(opts...)
		if err == nil || time.Now().After(deadline) {
			return err
		}
	}
}

// processWide are goroutines that legitimately outlive the tests that
// started them. Each holds no connection and no request.
var processWide = []goleak.Option{
	// fasthttp starts one connsCleaner per HostClient; after Close it
	// sleeps out the rest of MaxIdleConnDuration (IdleConnTimeout) with no
	// connection left, then exits. fasthttp has no way to stop it early.
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
	// fasthttp's default TCPDialer keeps one process-wide DNS cache
	// cleaner, started on the first dial and never stopped by design.
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
}

// leakRig is a Handler on a real socket in front of the fake upstream, with
// an engine the test owns (for PoolStats) and a client whose connections
// the test closes, so that after Close nothing of the request should run.
type leakRig struct {
	URL    string
	Up     *fakeupstream.Server
	Eng    engine.Engine
	Pool   engine.StatsReporter
	H      *Handler
	Client *http.Client
	srv    *httptest.Server
	active sync.WaitGroup // ServeHTTP calls in progress
	closed bool
}

func newLeakRig(t testing.TB, engName string, uo fakeupstream.Options, mod func(*Config, *engine.Config)) *leakRig {
	t.Helper()
	up, err := fakeupstream.Start(uo)
	if err != nil {
		t.Fatal(err)
	}
	ec := engine.NewConfig()
	models, err := toopenai.NewModels(toopenai.ModelsConfig{Big: "gpt-4.1", Small: "gpt-4.1-mini"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		EngineName: engName, UpstreamURL: up.URL + "/v1", UpstreamKey: upstreamSecret, Models: models,
		RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond, Logger: zerolog.Nop(),
	}
	if mod != nil {
		mod(&cfg, &ec)
	}
	eng, err := engine.New(engName, ec.Defaults())
	if err != nil {
		up.Close()
		t.Fatal(err)
	}
	cfg.Engine = eng
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sr, ok := eng.(engine.StatsReporter)
	if !ok {
		t.Fatalf("engine %s reports no pool stats", engName)
	}
	r := &leakRig{Up: up, Eng: eng, Pool: sr, H: h,
		Client: &http.Client{Transport: &http.Transport{DisableCompression: true}}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.active.Add(1)
		defer r.active.Done()
		h.ServeHTTP(w, req)
	}))
	r.URL = r.srv.URL
	t.Cleanup(r.Close)
	return r
}

// Close tears everything down in dependency order.
func (r *leakRig) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Client.CloseIdleConnections()
	r.srv.Close()
	r.H.Stop()
	r.Eng.Close()
	r.Up.Close()
}

// waitHandlers waits until no ServeHTTP call is running, failing after d.
func (r *leakRig) waitHandlers(t *testing.T, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { r.active.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("a handler still runs %v after its client left", d)
	}
}

// eventually polls cond until it holds, failing with what() after 5 s.
func eventually(t *testing.T, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// do sends a Messages request with the rig's client.
func (r *leakRig) do(ctx context.Context, t *testing.T, body string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL+"/v1/messages", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	return r.Client.Do(req)
}

// verifyNoLeak checks, after r is closed, that no goroutine started since
// ignore was taken is still there.
func verifyNoLeak(t *testing.T, r *leakRig, ignore goleak.Option) {
	t.Helper()
	r.Close()
	if err := findLeaks(append([]goleak.Option{ignore}, processWide...)...); err != nil {
		t.Fatalf("goroutines outlived the request: %v", err)
	}
}

// TestClientGoneReleasesUpstream: whatever the request is doing when the
// client disconnects, the handler returns, the upstream request is
// cancelled, a half-read upstream connection is discarded rather than put
// back into the pool, the next request works, and no goroutine is left.
func TestClientGoneReleasesUpstream(t *testing.T) {
	cases := []struct {
		name string
		opts fakeupstream.Options
		// fault and ready: the fault to inject and when the client should
		// leave (the request has reached that point).
		fault fakeupstream.Fault
		// readEvents is how many SSE events to read before leaving (0:
		// leave once the upstream has the request).
		readEvents int
		// upstreamCancel: the upstream must see the cancel (false when the
		// upstream had already answered, e.g. during a retry backoff).
		upstreamCancel bool
		// discarded: the connection was half-read and must not be reused.
		discarded bool
	}{
		{name: "mid-stream", opts: fakeupstream.Options{ChunkInterval: 20 * time.Millisecond, Chunks: 500},
			readEvents: 4, upstreamCancel: true, discarded: true},
		{name: "awaiting headers", fault: fakeupstream.Fault{Kind: fakeupstream.SlowHeaders, Delay: time.Minute},
			upstreamCancel: true, discarded: true},
		{name: "stalled stream", fault: fakeupstream.Fault{Kind: fakeupstream.Stall, AfterChunks: 2, Delay: time.Minute},
			readEvents: 2, upstreamCancel: true, discarded: true},
		{name: "retry backoff", fault: fakeupstream.Fault{Kind: fakeupstream.Status, Status: 503, RetryAfter: "15"}},
	}
	for _, eng := range engines() {
		for _, c := range cases {
			t.Run(eng+"/"+c.name, func(t *testing.T) {
				ignore := goleak.IgnoreCurrent()
				r := newLeakRig(t, eng, c.opts, nil)
				if c.fault.Kind != 0 {
					r.Up.InjectFaults(c.fault)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if c.readEvents == 0 {
					// No response head can come yet: leave once the upstream
					// has the request.
					errc := make(chan error, 1)
					go func() {
						resp, err := r.do(ctx, t, streamBody)
						if err == nil {
							resp.Body.Close()
							err = errors.New("got a response head " + resp.Status)
						}
						errc <- err
					}()
					eventually(t, func() bool { return r.Up.Stats().Requests == 1 },
						func() string { return "the request never reached the upstream" })
					if !c.discarded {
						// The error answer has been read and its connection
						// pooled: the handler is in its backoff.
						eventually(t, func() bool { p := r.Pool.PoolStats(); return p.Idle == 1 && p.InUse == 0 },
							func() string { return "error answer not consumed: " + poolString(r.Pool.PoolStats()) })
					}
					cancel()
					if err := <-errc; !errors.Is(err, context.Canceled) {
						t.Fatalf("client: %v, want its own cancellation", err)
					}
				} else {
					resp, err := r.do(ctx, t, streamBody)
					if err != nil {
						t.Fatal(err)
					}
					if resp.StatusCode != 200 {
						t.Fatalf("status %d", resp.StatusCode)
					}
					br := bufio.NewReader(resp.Body)
					for n := 0; n < c.readEvents; {
						line, err := br.ReadString('\n')
						if err != nil {
							t.Fatalf("stream ended after %d events: %v", n, err)
						}
						if strings.HasPrefix(line, "event: ") && !strings.HasPrefix(line, "event: ping") {
							n++
						}
					}
					cancel()
					resp.Body.Close()
				}
				r.waitHandlers(t, 5*time.Second)
				st := r.Up.Stats()
				if c.upstreamCancel {
					eventually(t, func() bool { return r.Up.Stats().Canceled == 1 },
						func() string { return "the upstream never saw the cancellation" })
				}
				if st.Requests != 1 {
					t.Fatalf("upstream saw %d attempts, want 1", st.Requests)
				}
				if c.discarded {
					eventually(t, func() bool { return r.Pool.PoolStats().Open == 0 },
						func() string { return "half-read connection kept open: " + poolString(r.Pool.PoolStats()) })
				} else {
					eventually(t, func() bool { p := r.Pool.PoolStats(); return p.Open == 1 && p.Idle == 1 },
						func() string { return "fully read connection not idle in the pool: " + poolString(r.Pool.PoolStats()) })
				}
				// The next request works, on a new connection if the old
				// one was discarded, on the same one otherwise.
				resp, err := r.do(context.Background(), t, streamBody)
				if err != nil {
					t.Fatal(err)
				}
				evs := readEvents(t, resp.Body)
				resp.Body.Close()
				checkGrammar(t, evs)
				p := r.Pool.PoolStats()
				wantCreated, wantReused := int64(1), int64(1)
				if c.discarded {
					wantCreated, wantReused = 2, 0
				}
				if p.Created != wantCreated || p.Reused != wantReused || r.Up.Stats().ConnsAccepted != wantCreated {
					t.Fatalf("pool %s, upstream accepted %d conns; want created %d reused %d",
						poolString(p), r.Up.Stats().ConnsAccepted, wantCreated, wantReused)
				}
				eventually(t, func() bool { return r.Pool.PoolStats().InUse == 0 },
					func() string { return "connection still in use: " + poolString(r.Pool.PoolStats()) })
				verifyNoLeak(t, r, ignore)
			})
		}
	}
}

func poolString(p engine.PoolStats) string {
	return fmt.Sprintf("open=%d idle=%d in_use=%d created=%d reused=%d", p.Open, p.Idle, p.InUse, p.Created, p.Reused)
}

// TestFaultsLeaveNoConnections: after every kind of upstream fault the
// client gets its answer, the upstream saw the expected attempts, no
// connection stays in use, a connection whose response was cut short is
// closed instead of pooled (the next request on the pool works), and no
// goroutine is left.
func TestFaultsLeaveNoConnections(t *testing.T) {
	cases := []struct {
		name     string
		faults   []fakeupstream.Fault
		status   int
		errEvent bool // a 200 stream that must carry an error event
		attempts int64
		open     int // connections open once the request is over; -1: 0 or 1
	}{
		{"status 500 x3", rep(3, fakeupstream.Fault{Kind: fakeupstream.Status, Status: 500}), 500, false, 3, 1},
		{"status 429 then ok", []fakeupstream.Fault{{Kind: fakeupstream.Status, Status: 429}}, 200, false, 2, 1},
		{"reset before headers then ok", []fakeupstream.Fault{{Kind: fakeupstream.ResetBeforeHeaders}}, 200, false, 2, 1},
		{"reset mid-stream", []fakeupstream.Fault{{Kind: fakeupstream.ResetMidStream, AfterChunks: 3}}, 200, true, 1, 0},
		{"truncated", []fakeupstream.Fault{{Kind: fakeupstream.Truncate, AfterChunks: 3}}, 200, true, 1, 1},
		// The upstream ends its body cleanly after the malformed chunk or
		// the error object, but the proxy stops reading there: keeping the
		// connection (nethttp, when its last read reached the body's end:
		// the rest came in with the bad event, as a loaded machine makes
		// likelier, 1 run in 30) or closing it (fasthttp) are both safe.
		{"malformed chunk", []fakeupstream.Fault{{Kind: fakeupstream.MalformedChunk, AfterChunks: 3}}, 200, true, 1, -1},
		{"stream error object", []fakeupstream.Fault{{Kind: fakeupstream.StreamError, AfterChunks: 3, Body: "boom"}}, 200, true, 1, -1},
		{"slow headers", []fakeupstream.Fault{{Kind: fakeupstream.SlowHeaders, Delay: 50 * time.Millisecond}}, 200, false, 1, 1},
		{"stall past idle timeout", []fakeupstream.Fault{{Kind: fakeupstream.Stall, AfterChunks: 3, Delay: time.Minute}}, 200, true, 1, 0},
	}
	for _, eng := range engines() {
		for _, c := range cases {
			t.Run(eng+"/"+c.name, func(t *testing.T) {
				ignore := goleak.IgnoreCurrent()
				r := newLeakRig(t, eng, fakeupstream.Options{}, func(_ *Config, ec *engine.Config) {
					ec.IdleReadTimeout = 200 * time.Millisecond
				})
				r.Up.InjectFaults(c.faults...)
				resp, err := r.do(context.Background(), t, streamBody)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != c.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
				}
				if c.status != 200 {
					errorBody(t, resp)
				} else {
					evs := readEvents(t, resp.Body)
					resp.Body.Close()
					checkGrammar(t, evs)
					if got := slices.Contains(names(evs), "error"); got != c.errEvent {
						t.Fatalf("error event %v, want %v: %v", got, c.errEvent, names(evs))
					}
				}
				r.waitHandlers(t, 5*time.Second)
				if got := r.Up.Stats().Requests; got != c.attempts {
					t.Fatalf("upstream saw %d attempts, want %d", got, c.attempts)
				}
				eventually(t, func() bool {
					p := r.Pool.PoolStats()
					return p.InUse == 0 && (p.Open == c.open || c.open < 0 && p.Open <= 1)
				},
					func() string {
						return fmt.Sprintf("after the request: %s, want open=%d in_use=0", poolString(r.Pool.PoolStats()), c.open)
					})
				// The pool serves the next request correctly.
				resp, err = r.do(context.Background(), t, streamBody)
				if err != nil {
					t.Fatal(err)
				}
				evs := readEvents(t, resp.Body)
				resp.Body.Close()
				checkGrammar(t, evs)
				if slices.Contains(names(evs), "error") {
					t.Fatalf("follow-up request failed: %v", evs)
				}
				if p := r.Pool.PoolStats(); p.Created != r.Up.Stats().ConnsAccepted {
					t.Fatalf("engine dialed %d, upstream accepted %d", p.Created, r.Up.Stats().ConnsAccepted)
				}
				verifyNoLeak(t, r, ignore)
			})
		}
	}
}
