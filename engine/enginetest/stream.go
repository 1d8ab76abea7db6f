package enginetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/engine"
)

func sseHead(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
}

func event(i int) string { return fmt.Sprintf("data: {\"i\":%d}\n\n", i) }

// blockUntilGone waits until the client disconnects (or the test ends) and
// reports a disconnect by closing gone. It first consumes the request body:
// net/http's HTTP/1.1 server notices a closed connection only then.
func blockUntilGone(u *upstream, r *http.Request, gone chan struct{}) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
		if gone != nil {
			close(gone)
		}
	case <-u.done:
	}
}

func (s *suite) testStream(t *testing.T, kind string) {
	proceed := make(chan struct{})
	u, e := s.setup(t, kind, nil, func(u *upstream, w http.ResponseWriter, r *http.Request) {
		sseHead(w)
		_, _ = io.WriteString(w, event(0))
		flush(w)
		select {
		case <-proceed:
		case <-r.Context().Done():
			return
		case <-u.done:
			return
		}
		for i := 1; i < 5; i++ {
			_, _ = io.WriteString(w, event(i))
			flush(w)
		}
	})
	resp := do(t, e, testCtx(t), &engine.Request{Method: http.MethodPost, URL: u.URL + "/sse", Body: []byte(`{"stream":true}`)})
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	// The first event must be readable while the upstream is still held.
	ev, err := readEvent(br)
	if err != nil || ev != event(0) {
		t.Fatalf("first event %q, err %v (buffered stream?)", ev, err)
	}
	close(proceed)
	for i := 1; i < 5; i++ {
		if ev, err := readEvent(br); err != nil || ev != event(i) {
			t.Fatalf("event %d: %q, err %v", i, ev, err)
		}
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after last event: %q, err %v", rest, err)
	}
}

func (s *suite) testCancelHeaderWait(t *testing.T, kind string) {
	entered, gone := make(chan struct{}), make(chan struct{})
	u, e := s.setup(t, kind, nil, func(u *upstream, w http.ResponseWriter, r *http.Request) {
		close(entered)
		blockUntilGone(u, r, gone)
	})
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	go func() {
		select {
		case <-entered:
			cancel()
		case <-ctx.Done():
		}
	}()
	resp, err := e.Do(ctx, &engine.Request{Method: http.MethodPost, URL: u.URL + "/slow", Body: []byte("{}")})
	if err == nil {
		resp.Body.Close()
		t.Fatal("Do succeeded after its context was cancelled")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Do error %v does not wrap context.Canceled", err)
	}
	wait(t, gone, "the upstream to observe the cancelled request")
}

// testCancelPoolWait: a request waiting for a free connection (all
// MaxConnsPerHost busy) gives up as soon as its context ends, not after
// PoolTimeout: a client that went away must not hold a goroutine for it.
func (s *suite) testCancelPoolWait(t *testing.T, kind string) {
	if kind != KindH1 && kind != KindH1TLS {
		t.Skip("HTTP/2 multiplexes requests: none waits for a connection")
	}
	entered := make(chan struct{}, 1)
	u, e := s.setup(t, kind, func(c *engine.Config) { c.MaxConnsPerHost, c.PoolTimeout = 1, time.Minute },
		func(u *upstream, w http.ResponseWriter, r *http.Request) {
			sseHead(w)
			flush(w)
			entered <- struct{}{}
			blockUntilGone(u, r, nil)
		})
	first := do(t, e, testCtx(t), &engine.Request{Method: http.MethodPost, URL: u.URL + "/hold", Body: []byte("{}")})
	defer first.Body.Close()
	wait(t, entered, "the first request to hold the only connection")
	ctx, cancel := context.WithTimeout(testCtx(t), 100*time.Millisecond)
	defer cancel()
	resp, err := e.Do(ctx, &engine.Request{Method: http.MethodPost, URL: u.URL + "/second", Body: []byte("{}")})
	if err == nil {
		resp.Body.Close()
		t.Fatal("the second request got a connection while the only one was busy")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do error %v: want the context's own error, at once, not a pool timeout", err)
	}
}

func (s *suite) testCancelMidBody(t *testing.T, kind string) {
	gone := make(chan struct{})
	u, e := s.setup(t, kind, nil, func(u *upstream, w http.ResponseWriter, r *http.Request) {
		sseHead(w)
		_, _ = io.WriteString(w, event(0))
		flush(w)
		blockUntilGone(u, r, gone)
	})
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	resp := do(t, e, ctx, &engine.Request{Method: http.MethodPost, URL: u.URL + "/sse", Body: []byte("{}")})
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if ev, err := readEvent(br); err != nil || ev != event(0) {
		t.Fatalf("first event %q, err %v", ev, err)
	}
	readErr := make(chan error, 1)
	go func() {
		_, err := br.ReadByte() // blocks: the upstream sends nothing more
		readErr <- err
	}()
	cancel()
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("Read succeeded after cancel")
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Read error %v does not wrap context.Canceled", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Read did not return after the context was cancelled")
	}
	wait(t, gone, "the upstream to observe the cancelled stream")
}

func (s *suite) testCloseBeforeEOF(t *testing.T, kind string) {
	gone := make(chan struct{})
	addrs := make(chan string, 2)
	u, e := s.setup(t, kind, nil, func(u *upstream, w http.ResponseWriter, r *http.Request) {
		addrs <- r.RemoteAddr
		if r.URL.Path == "/first" {
			sseHead(w)
			_, _ = w.Write(make([]byte, 64<<10))
			flush(w)
			blockUntilGone(u, r, gone)
			return
		}
		_, _ = io.WriteString(w, "second")
	})
	resp := do(t, e, testCtx(t), &engine.Request{Method: http.MethodPost, URL: u.URL + "/first", Body: []byte("{}")})
	if _, err := io.ReadFull(resp.Body, make([]byte, 10)); err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Logf("Close: %v", err)
	}
	wait(t, gone, "the upstream to observe the abandoned response")
	resp2 := do(t, e, testCtx(t), &engine.Request{Method: http.MethodPost, URL: u.URL + "/second", Body: []byte("{}")})
	if got := string(readBody(t, resp2)); got != "second" {
		t.Fatalf("second response body %q (half-read connection reused?)", got)
	}
	a1, a2 := <-addrs, <-addrs
	if resp2.Proto == "HTTP/1.1" && a1 == a2 {
		t.Fatalf("HTTP/1.1 connection %s reused after its body was closed half-read", a1)
	}
}

func (s *suite) testTruncated(t *testing.T, kind string) {
	u, e := s.setup(t, kind, nil, func(u *upstream, w http.ResponseWriter, r *http.Request) {
		hj, ok := w.(http.Hijacker)
		if !ok { // HTTP/2: announce a length, send less, reset the stream.
			w.Header().Set("Content-Length", "100")
			_, _ = io.WriteString(w, "hello")
			flush(w)
			panic(http.ErrAbortHandler)
		}
		conn, bw, err := hj.Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		if r.URL.Path == "/chunked" {
			_, _ = io.WriteString(bw, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\nabc")
		} else {
			_, _ = io.WriteString(bw, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nhello")
		}
		_ = bw.Flush()
	})
	for _, path := range []string{"/chunked", "/length"} {
		resp := do(t, e, testCtx(t), &engine.Request{Method: http.MethodGet, URL: u.URL + path})
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(string(got), "hello") {
			t.Errorf("%s: body %q, want prefix hello", path, got)
		}
		if resp.Proto == "HTTP/1.1" {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s: read error %v, want io.ErrUnexpectedEOF", path, err)
			}
		} else if err == nil {
			t.Errorf("%s: reset HTTP/2 stream read without error", path)
		}
	}
}

func (s *suite) testHeaderTimeout(t *testing.T, kind string) {
	u, e := s.setup(t, kind, func(c *engine.Config) { c.ResponseHeaderTimeout = 150 * time.Millisecond },
		func(u *upstream, w http.ResponseWriter, r *http.Request) { blockUntilGone(u, r, nil) })
	resp, err := e.Do(testCtx(t), &engine.Request{Method: http.MethodPost, URL: u.URL + "/slow", Body: []byte("{}")})
	if err == nil {
		resp.Body.Close()
		t.Fatal("Do succeeded although the upstream never answered")
	}
	if !engine.IsTimeout(err) {
		t.Fatalf("error %v is not a timeout (engine.IsTimeout)", err)
	}
}

func (s *suite) testIdleReadTimeout(t *testing.T, kind string) {
	gone := make(chan struct{})
	u, e := s.setup(t, kind, func(c *engine.Config) { c.IdleReadTimeout = 150 * time.Millisecond },
		func(u *upstream, w http.ResponseWriter, r *http.Request) {
			sseHead(w)
			_, _ = io.WriteString(w, event(0))
			flush(w)
			blockUntilGone(u, r, gone) // stall mid-body
		})
	// The request's context outlives waitLimit: only the idle timeout may
	// end the stalled Read and drop the connection (wait below).
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitLimit)
	defer cancel()
	resp := do(t, e, ctx, &engine.Request{Method: http.MethodPost, URL: u.URL + "/stall", Body: []byte("{}")})
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if ev, err := readEvent(br); err != nil || ev != event(0) {
		t.Fatalf("first event %q, err %v", ev, err)
	}
	_, err := br.ReadByte()
	if err == nil {
		t.Fatal("Read returned data from a stalled upstream")
	}
	// ErrIdleTimeout itself: engine.IsTimeout also holds for the test
	// context's own deadline, which would end a Read that no idle deadline
	// bounds.
	if !errors.Is(err, engine.ErrIdleTimeout) {
		t.Fatalf("stalled Read error %v does not wrap engine.ErrIdleTimeout", err)
	}
	wait(t, gone, "the upstream to observe the timed-out stream")
}

// streamOnDemand writes one event each time next receives, until stop is
// closed; then the handler returns and the body ends.
func streamOnDemand(next <-chan struct{}, stop <-chan struct{}) handler {
	return func(u *upstream, w http.ResponseWriter, r *http.Request) {
		sseHead(w)
		flush(w)
		for i := 0; ; i++ {
			select {
			case <-next:
				_, _ = io.WriteString(w, event(i))
				flush(w)
			case <-stop:
				return
			case <-r.Context().Done():
				return
			case <-u.done:
				return
			}
		}
	}
}

func (s *suite) testLongStreamNotCut(t *testing.T, kind string) {
	const idle = 250 * time.Millisecond
	next, stop := make(chan struct{}), make(chan struct{})
	u, e := s.setup(t, kind, func(c *engine.Config) { c.IdleReadTimeout = idle }, streamOnDemand(next, stop))
	ctx := testCtx(t)
	resp := do(t, e, ctx, &engine.Request{Method: http.MethodPost, URL: u.URL + "/long", Body: []byte("{}")})
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	start := time.Now()
	// Keep the stream busy for well over the idle timeout in total; each gap
	// is only as long as one round trip through the upstream.
	for i := 0; time.Since(start) < 5*idle/2; i++ {
		select {
		case next <- struct{}{}:
		case <-ctx.Done():
			t.Fatal("upstream stopped taking events")
		}
		if ev, err := readEvent(br); err != nil || ev != event(i) {
			t.Fatalf("event %d after %v: %q, err %v (total stream time cut?)", i, time.Since(start), ev, err)
		}
	}
	close(stop)
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("end of stream: %q, err %v", rest, err)
	}
}

func (s *suite) testCloseEngineInFlight(t *testing.T, kind string) {
	next, stop := make(chan struct{}), make(chan struct{})
	u, e := s.setup(t, kind, nil, streamOnDemand(next, stop))
	ctx := testCtx(t)
	resp := do(t, e, ctx, &engine.Request{Method: http.MethodPost, URL: u.URL + "/inflight", Body: []byte("{}")})
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		if i == 1 {
			if err := e.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
		select {
		case next <- struct{}{}:
		case <-ctx.Done():
			t.Fatal("upstream stopped taking events")
		}
		if ev, err := readEvent(br); err != nil || ev != event(i) {
			t.Fatalf("event %d (engine closed after 1): %q, err %v", i, ev, err)
		}
	}
	close(stop)
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("end of stream after engine Close: %q, err %v", rest, err)
	}
}
