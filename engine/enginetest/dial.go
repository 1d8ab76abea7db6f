package enginetest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/engine"
)

// stallDialTimeout is the DialTimeout of the engines in the stalled-dial
// tests: far beyond hangGuard, so an engine that only gives up when its
// connect timeout expires fails them.
const stallDialTimeout = 30 * time.Second

// hangGuard bounds how long Do may stay blocked after its context was
// cancelled. It is a hang guard, not a measure of speed: an engine that
// honours the context returns within milliseconds.
const hangGuard = 5 * time.Second

// cancelAfter is when the connect test cancels its context. The stalled
// connect cannot be observed (its SYN is dropped), so the cancel comes a
// while after Do started; had Do not reached the dial by then, the test
// would still hold it to the same contract.
const cancelAfter = 100 * time.Millisecond

// scheme is the URL scheme of the upstream kind.
func scheme(kind string) string {
	if isTLS(kind) {
		return "https"
	}
	return "http"
}

// doCancelled runs Do, which must fail with an error wrapping
// context.Canceled once ctx has been cancelled, and within hangGuard.
// when says when the test cancels ctx.
func doCancelled(t *testing.T, e engine.Engine, ctx context.Context, url, when string) {
	t.Helper()
	type result struct {
		resp *engine.Response
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		resp, err := e.Do(ctx, &engine.Request{Method: http.MethodPost, URL: url,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"stream":true}`)})
		ch <- result{resp, err}
	}()
	guard := time.NewTimer(hangGuard)
	defer guard.Stop()
	var r result
	select {
	case r = <-ch:
	case <-guard.C:
		t.Fatalf("Do still blocked %v after it started, its context cancelled %s (connect timeout %v)",
			hangGuard, when, stallDialTimeout)
	}
	if r.err == nil {
		r.resp.Body.Close()
		t.Fatal("Do succeeded against an upstream that never answers")
	}
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Do error %v does not wrap context.Canceled", r.err)
	}
}

// testCancelDuringConnect: a client that goes away while the engine is
// still connecting (a SYN never answered) makes Do return with its
// context's error at once, not when the connect timeout expires. The dial
// itself must end by the time the engine is closed: the goroutine check at
// the end of Run finds any that is still waiting for its connect.
func (s *suite) testCancelDuringConnect(t *testing.T, kind string) {
	addr := UnansweredAddr(t)
	e := s.newEngine(t, kind, func(c *engine.Config) { c.DialTimeout = stallDialTimeout })
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	timer := time.AfterFunc(cancelAfter, cancel)
	defer timer.Stop()
	doCancelled(t, e, ctx, scheme(kind)+"://"+addr+"/v1/chat/completions", "after "+cancelAfter.String())
}

// stalledTLS is a TCP listener on 127.0.0.1 that accepts connections and
// never answers the ClientHello.
type stalledTLS struct {
	ln       net.Listener
	accepted chan struct{} // one value per accepted connection
	// gone receives once per connection the client closed.
	gone chan struct{}
	wg   sync.WaitGroup
}

func newStalledTLS(t *testing.T) *stalledTLS {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &stalledTLS{ln: ln, accepted: make(chan struct{}, 16), gone: make(chan struct{}, 16)}
	done := make(chan struct{})
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			s.accepted <- struct{}{}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				// Read the ClientHello and whatever follows, answer nothing.
				_, _ = io.Copy(io.Discard, c)
				select {
				case <-done:
				default:
					s.gone <- struct{}{}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		close(done)
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// testCancelDuringTLSHandshake: the upstream accepts the TCP connection
// but never answers the ClientHello; cancelling the context makes Do
// return with its error at once, and once the engine is closed the
// half-open connection is closed too, long before the connect timeout.
func (s *suite) testCancelDuringTLSHandshake(t *testing.T, kind string) {
	if !isTLS(kind) {
		t.Skip("no TLS handshake on a cleartext upstream")
	}
	up := newStalledTLS(t)
	e := s.newEngine(t, kind, func(c *engine.Config) { c.DialTimeout = stallDialTimeout })
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	go func() {
		select {
		case <-up.accepted:
			cancel()
		case <-ctx.Done():
		}
	}()
	doCancelled(t, e, ctx, "https://"+up.ln.Addr().String()+"/v1/chat/completions", "once the TCP connection was accepted")
	if err := e.Close(); err != nil {
		t.Fatalf("engine Close: %v", err)
	}
	select {
	case <-up.gone:
	case <-time.After(waitLimit):
		t.Fatalf("the stalled handshake's connection still open %v after Do returned and the engine was closed", waitLimit)
	}
}
