package fasthttp

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/engine/enginetest"
)

// stalledTLSAddr is a TCP listener that accepts and never answers the
// ClientHello. accepted gets each accepted connection; gone is closed
// when the client closed the first one.
func stalledTLSAddr(t *testing.T) (addr string, accepted <-chan struct{}, gone <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	acc, g := make(chan struct{}, 1), make(chan struct{})
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		acc <- struct{}{}
		_, _ = io.Copy(io.Discard, c) // until the client closes (or cleanup does)
		close(g)
	}()
	t.Cleanup(func() {
		ln.Close()
		select {
		case <-g:
		default:
			// The client never closed it: close it from here to end the
			// server goroutine (the test has failed already).
			if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
				c.Close()
			}
		}
		<-served
	})
	return ln.Addr().String(), acc, g
}

// TestCancelledDialEnds: a request whose context ends while its connection
// is still being made (a connect never answered, a TLS handshake never
// answered) returns at once with the context's error, gives its connection
// slot back, and the connect itself ends with it, without waiting for
// DialTimeout nor for the engine to be closed.
func TestCancelledDialEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup returns the URL and a channel that says when to cancel
		// (nil: shortly after Do started, the connect cannot be observed).
		setup func(t *testing.T) (url string, cancelOn <-chan struct{}, gone <-chan struct{})
	}{
		{"connect", func(t *testing.T) (string, <-chan struct{}, <-chan struct{}) {
			return "http://" + enginetest.UnansweredAddr(t) + "/v1/chat/completions", nil, nil
		}},
		{"tls handshake", func(t *testing.T) (string, <-chan struct{}, <-chan struct{}) {
			addr, acc, gone := stalledTLSAddr(t)
			return "https://" + addr + "/v1/chat/completions", acc, gone
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, cancelOn, gone := tc.setup(t)
			ignore := goleak.IgnoreCurrent()
			e := newTestEngine(t, func(c *engine.Config) { c.DialTimeout = 30 * time.Second })
			ctx, cancel := context.WithCancel(testCtx(t))
			defer cancel()
			if cancelOn == nil {
				timer := time.AfterFunc(100*time.Millisecond, cancel)
				defer timer.Stop()
			} else {
				go func() {
					select {
					case <-cancelOn:
						cancel()
					case <-ctx.Done():
					}
				}()
			}
			errc := make(chan error, 1)
			go func() {
				resp, err := e.Do(ctx, &engine.Request{Method: "POST", URL: url, Body: []byte("{}")})
				if err == nil {
					resp.Body.Close()
				}
				errc <- err
			}()
			var err error
			select {
			case err = <-errc:
			case <-time.After(5 * time.Second): // hang guard; DialTimeout is 30 s
				t.Fatal("Do still blocked 5s after it started")
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Do error %v, want one wrapping context.Canceled", err)
			}
			if st := e.PoolStats(); st.Open != 0 || st.Created != 0 {
				t.Errorf("pool stats %+v after the cancelled dial, want no connection", st)
			}
			if gone != nil {
				select {
				case <-gone:
				case <-time.After(5 * time.Second):
					t.Fatal("the stalled TLS connection is still open 5s after Do returned")
				}
			}
			// The connect's goroutine has ended, the engine still open.
			if err := goleak.Find(ignore, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner")); err != nil {
				t.Fatalf("the cancelled dial left goroutines behind: %v", err)
			}
		})
	}
}
