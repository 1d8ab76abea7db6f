package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/proxy/toopenai"
)

// shutdownRig serves a Handler with its own http.Server the way
// cmd/ccproxy does, so the test can drive Shutdown and Stop.
type shutdownRig struct {
	URL  string
	Up   *fakeupstream.Server
	H    *Handler
	Srv  *http.Server
	eng  engine.Engine
	errc chan error
}

func newShutdownRig(t *testing.T, engName string, uo fakeupstream.Options) *shutdownRig {
	t.Helper()
	return newShutdownRigBase(t, engName, uo, true)
}

// newShutdownRigBase is newShutdownRig with or without the Handler's
// BaseContext on the server (without: Stop reaches each request through
// the context it registers).
func newShutdownRigBase(t *testing.T, engName string, uo fakeupstream.Options, baseContext bool) *shutdownRig {
	t.Helper()
	up, err := fakeupstream.Start(uo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	eng, err := engine.New(engName, engine.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	models, err := toopenai.NewModels(toopenai.ModelsConfig{Big: "gpt-4.1", Small: "gpt-4.1-mini"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Engine: eng, EngineName: engName, UpstreamURL: up.URL + "/v1", UpstreamKey: upstreamSecret,
		Models: models, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &shutdownRig{URL: "http://" + ln.Addr().String(), Up: up, H: h, eng: eng, errc: make(chan error, 1),
		Srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, Protocols: new(http.Protocols)}}
	// Both protocols on one port, as cmd/ccproxy serves them.
	r.Srv.Protocols.SetHTTP1(true)
	r.Srv.Protocols.SetUnencryptedHTTP2(true)
	if baseContext {
		r.Srv.BaseContext = h.BaseContext
	}
	go func() { r.errc <- r.Srv.Serve(ln) }()
	t.Cleanup(func() {
		r.Srv.Close()
		if err := <-r.errc; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return r
}

// startStream opens a stream and returns once its head has arrived, so
// it is running when the test shuts down.
func startStream(t *testing.T, url string, client *http.Client) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/messages", strings.NewReader(streamBody))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return resp
}

// TestShutdownLetsStreamsFinish: a stream that ends within the grace
// period ends normally; Shutdown returns once it has, and no new
// connection is accepted after that.
func TestShutdownLetsStreamsFinish(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			r := newShutdownRig(t, eng, fakeupstream.Options{ChunkInterval: 20 * time.Millisecond, Chunks: 25})
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			resp := startStream(t, r.URL, &http.Client{Transport: tr})
			defer resp.Body.Close()
			first := make([]byte, 1)
			if _, err := io.ReadFull(resp.Body, first); err != nil {
				t.Fatal(err)
			}
			shut := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				shut <- r.Srv.Shutdown(ctx)
			}()
			rest, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("stream cut by a graceful shutdown: %v", err)
			}
			evs := readEvents(t, io.MultiReader(strings.NewReader(string(first)), strings.NewReader(string(rest))))
			data := checkGrammar(t, evs)
			if slices.Contains(names(evs), "error") {
				t.Fatalf("error event in a stream that finished within grace: %v", names(evs))
			}
			var stop any
			for _, d := range data {
				if d["type"] == "message_delta" {
					stop = d["delta"].(map[string]any)["stop_reason"]
				}
			}
			if stop != "end_turn" {
				t.Fatalf("stop_reason %v, want end_turn", stop)
			}
			if err := <-shut; err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if r.Up.Stats().Canceled != 0 {
				t.Fatal("the upstream saw a cancel during a graceful shutdown")
			}
			if c, err := net.DialTimeout("tcp", strings.TrimPrefix(r.URL, "http://"), time.Second); err == nil {
				c.Close()
				t.Fatal("still accepting connections after Shutdown")
			}
			tr.CloseIdleConnections()
			r.Srv.Close()
			r.eng.Close()
			r.Up.Close()
			if err := findLeaks(append([]goleak.Option{ignore}, processWide...)...); err != nil {
				t.Fatalf("goroutines left after shutdown: %v", err)
			}
		})
	}
}

// TestShutdownGraceOver: a stream longer than the grace period keeps
// running through Shutdown; Stop then ends it with an error event followed
// by message_stop, the upstream sees the cancel, the second Shutdown
// completes, and a request after Stop gets 503 overloaded_error.
func TestShutdownGraceOver(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newShutdownRig(t, eng, fakeupstream.Options{ChunkInterval: 20 * time.Millisecond, Chunks: 5000})
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			resp := startStream(t, r.URL, &http.Client{Transport: tr})
			defer resp.Body.Close()
			got := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(resp.Body)
				got <- b
			}()

			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			err := r.Srv.Shutdown(ctx)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Shutdown with a 100 s stream running: %v, want the grace deadline", err)
			}
			r.H.Stop()
			ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := r.Srv.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown after Stop: %v", err)
			}
			var raw []byte
			select {
			case raw = <-got:
			case <-ctx.Done():
				t.Fatal("the stream did not end after Stop")
			}
			evs := readEvents(t, strings.NewReader(string(raw)))
			data := checkGrammar(t, evs) // ends with message_stop
			i := slices.Index(names(evs), "error")
			if i < 0 {
				t.Fatalf("want an error event before message_stop: %v", names(evs))
			}
			e := data[i]["error"].(map[string]any)
			if e["type"] != errOverloaded { // clients retry an overload
				t.Fatalf("error event type %v, want %s", e["type"], errOverloaded)
			}
			if msg, _ := e["message"].(string); !strings.Contains(msg, "shutting down") {
				t.Errorf("error event message %q does not say ccproxy is shutting down", msg)
			}
			eventually(t, func() bool { return r.Up.Stats().Canceled == 1 },
				func() string { return "the upstream never saw the cancel" })

			// After Stop the handler refuses work, wherever it is served.
			late := httptest.NewServer(r.H)
			defer late.Close()
			lresp := post(t, late.URL, "/v1/messages", []byte(streamBody), nil)
			wantOverloaded(t, lresp, http.StatusServiceUnavailable)
			if got := r.Up.Stats().Requests; got != 1 {
				t.Fatalf("a request after Stop reached the upstream (%d requests)", got)
			}
		})
	}
}

// TestStopEndsUnaryRequests: Stop ends a unary request that waits for a
// slow upstream, on /v1/messages and on the passthrough route, whether the
// server derives its requests from the Handler's BaseContext (as
// cmd/ccproxy does) or not: the client gets 503 overloaded_error at once,
// not the upstream's answer 30 s later, and the upstream sees the cancel.
func TestStopEndsUnaryRequests(t *testing.T) {
	routes := []struct{ name, path, body string }{
		{"messages", "/v1/messages", strings.Replace(streamBody, `"stream":true`, `"stream":false`, 1)},
		{"passthrough", "/v1/chat/completions", `{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`},
	}
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(h2c.CloseIdleConnections)
	clients := []struct {
		name   string
		client *http.Client
	}{{"http1", http.DefaultClient}, {"h2c", &http.Client{Transport: h2c}}}
	for _, eng := range engines() {
		for _, base := range []bool{true, false} {
			for _, rt := range routes {
				for _, cl := range clients {
					t.Run(fmt.Sprintf("%s/base=%v/%s/%s", eng, base, rt.name, cl.name), func(t *testing.T) {
						testStopEndsUnaryRequest(t, eng, base, rt.path, rt.body, cl.client)
					})
				}
			}
		}
	}
}

func testStopEndsUnaryRequest(t *testing.T, eng string, base bool, path, body string, client *http.Client) {
	r := newShutdownRigBase(t, eng, fakeupstream.Options{HeaderDelay: 30 * time.Second}, base)
	type answer struct {
		resp *http.Response
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, r.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		got <- answer{resp, err}
	}()
	eventually(t, func() bool { return r.Up.Stats().Requests == 1 },
		func() string { return "the request never reached the upstream" })
	r.H.Stop()
	var a answer
	select {
	case a = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the unary request did not end after Stop")
	}
	if a.err != nil {
		t.Fatal(a.err)
	}
	if want := 1 + b2i(client != http.DefaultClient); a.resp.ProtoMajor != want {
		t.Fatalf("answered over HTTP/%d, want HTTP/%d", a.resp.ProtoMajor, want)
	}
	wantOverloaded(t, a.resp, http.StatusServiceUnavailable)
	eventually(t, func() bool { return r.Up.Stats().Canceled == 1 },
		func() string { return "the upstream never saw the cancel" })
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestBaseContextReachesH2C: a server built with the Handler's
// BaseContext hands it to HTTP/2 (h2c) requests too, not only to HTTP/1:
// the request's context carries the Handler's mark (so requestContext
// skips its own registration with Stop) and Stop ends it.
func TestBaseContextReachesH2C(t *testing.T) {
	h := newRigFor(t, "nethttp", "http://127.0.0.1:1", nil, nil).H
	type seen struct {
		ctx   context.Context
		proto int
	}
	got := make(chan seen, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		got <- seen{req.Context(), req.ProtoMajor}
		<-req.Context().Done()
	}))
	srv.Config.BaseContext = h.BaseContext // as cmd/ccproxy's server
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	go func() {
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL + "/")
		if err == nil {
			resp.Body.Close()
		}
	}()
	var s seen
	select {
	case s = <-got:
	case <-time.After(10 * time.Second): // a hang guard
		t.Fatal("the h2c request never reached the handler")
	}
	if s.proto != 2 {
		t.Fatalf("request over HTTP/%d, want 2", s.proto)
	}
	if s.ctx.Value(stopScope{}) != h {
		t.Fatal("the h2c request's context does not derive from the Handler's BaseContext")
	}
	if s.ctx.Err() != nil {
		t.Fatal("the request's context ended before Stop")
	}
	h.Stop()
	select {
	case <-s.ctx.Done():
	case <-time.After(10 * time.Second): // a hang guard
		t.Fatal("Stop did not end the h2c request's context")
	}
}

// TestStopBeforeAnyRequest: a server built with the Handler's BaseContext
// whose Handler was stopped before its first request (every connection's
// context is born ended) still answers, over HTTP/1 and h2c, with the
// shutting-down 503, and sends nothing upstream.
func TestStopBeforeAnyRequest(t *testing.T) {
	r := newShutdownRig(t, "nethttp", fakeupstream.Options{})
	r.H.Stop()
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(h2c.CloseIdleConnections)
	for i, c := range []*http.Client{{Timeout: 10 * time.Second}, {Transport: h2c, Timeout: 10 * time.Second}} {
		req, _ := http.NewRequest(http.MethodPost, r.URL+"/v1/messages", strings.NewReader(streamBody))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ProtoMajor != i+1 {
			t.Fatalf("answered over HTTP/%d, want HTTP/%d", resp.ProtoMajor, i+1)
		}
		wantOverloaded(t, resp, http.StatusServiceUnavailable)
		resp.Body.Close()
	}
	if n := r.Up.Stats().Requests; n != 0 {
		t.Fatalf("upstream saw %d requests, want 0", n)
	}
}
