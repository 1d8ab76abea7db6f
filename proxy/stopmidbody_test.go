package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
)

// TestRequestContextAfterStop: a request context made once Stop has been
// called is already cancelled when requestContext returns, whatever the
// kind of request and whether the server was built with BaseContext.
// Without BaseContext, Stop reaches a request through context.AfterFunc,
// whose function runs in a goroutine of its own, even when Stop came
// first: the context was live on return, and its request could be sent
// upstream after Stop.
func TestRequestContextAfterStop(t *testing.T) {
	r := newShutdownRigBase(t, "nethttp", fakeupstream.Options{}, false)
	r.H.Stop()
	for _, base := range []bool{false, true} {
		for _, stream := range []bool{false, true} {
			parent := context.Background()
			if base {
				parent = r.H.BaseContext(nil)
			}
			ctx, cancel := r.H.requestContext(parent, stream)
			err := ctx.Err()
			cancel()
			if err == nil {
				t.Errorf("base=%v stream=%v: the request's context is live after Stop", base, stream)
			}
		}
	}
}

// TestStopWhileBodyArrives: a request that has been admitted, and whose
// body is still arriving when Stop is called, is answered 503
// overloaded_error (which clients retry elsewhere) once its body is in,
// and the upstream gets nothing: /v1/messages and the passthrough, both
// engines, with and without BaseContext. The client sends Expect:
// 100-continue, so the first bytes of its body leave only once the handler
// reads the body: the request is past admission when Stop comes. This
// one also passed before the fix (without BaseContext, the goroutine that
// cancelled the context won the race against the engine's first write,
// every time here); TestRequestContextAfterStop is the one that fails
// without it.
func TestStopWhileBodyArrives(t *testing.T) {
	routes := []struct{ name, path, body string }{
		{"messages", "/v1/messages", streamBody},
		{"passthrough", "/v1/chat/completions", `{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`},
	}
	for _, eng := range engines() {
		for _, base := range []bool{true, false} {
			for _, rt := range routes {
				t.Run(fmt.Sprintf("%s/base=%v/%s", eng, base, rt.name), func(t *testing.T) {
					testStopWhileBodyArrives(t, eng, base, rt.path, rt.body)
				})
			}
		}
	}
}

func testStopWhileBodyArrives(t *testing.T, eng string, base bool, path, body string) {
	r := newShutdownRigBase(t, eng, fakeupstream.Options{}, base)
	tr := &http.Transport{ExpectContinueTimeout: time.Minute, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, r.URL+path, pr)
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	type answer struct {
		resp *http.Response
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
		got <- answer{resp, err}
	}()
	write := func(p string) chan error {
		done := make(chan error, 1)
		go func() { _, err := io.WriteString(pw, p); done <- err }()
		return done
	}
	// The first bytes are taken once the handler reads the body.
	select {
	case err := <-write(body[:10]):
		if err != nil {
			t.Fatalf("writing the body: %v", err)
		}
	case a := <-got:
		if a.err != nil {
			t.Fatalf("no answer before the body was sent: %v", a.err)
		}
		_, msg := errorBody(t, a.resp)
		t.Fatalf("answered %s before the body was read: %s", a.resp.Status, msg)
	case <-time.After(10 * time.Second):
		t.Fatal("the body was never read")
	}
	r.H.Stop()
	// The rest is taken whatever the handler does with it; a transport
	// that gave up on it (an answer before the body's end) closes the pipe.
	select {
	case err := <-write(body[10:]):
		if err != nil {
			t.Fatalf("writing the rest of the body: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the rest of the body was never read")
	}
	pw.Close()
	var a answer
	select {
	case a = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
	}
	if a.err != nil {
		t.Fatal(a.err)
	}
	wantOverloaded(t, a.resp, http.StatusServiceUnavailable)
	if n := r.Up.Stats().Requests; n != 0 {
		t.Fatalf("the upstream got %d requests after Stop", n)
	}
}
