package nethttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/klauspost/compress/zlib"
)

func newTestEngine(t *testing.T, mut func(*engine.Config)) *Engine {
	t.Helper()
	cfg := engine.NewConfig()
	if mut != nil {
		mut(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds, failing after 10 s. For state that
// settles on another goroutine; not a timing assertion.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never reached: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRegistered(t *testing.T) {
	e, err := engine.New(Name, engine.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, ok := e.(*Engine); !ok {
		t.Fatalf("engine.New(%q) returned %T", Name, e)
	}
}

func TestPoolTimeoutAndStats(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "head")
		w.(http.Flusher).Flush()
		if r.URL.Path == "/hold" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	defer close(release)
	e := newTestEngine(t, func(c *engine.Config) {
		c.MaxConnsPerHost = 1
		c.PoolTimeout = 100 * time.Millisecond
	})
	held, err := e.Do(ctxT(t), &engine.Request{Method: "POST", URL: srv.URL + "/hold", Body: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	if st := e.PoolStats(); st.Open != 1 || st.InUse != 1 || st.Created != 1 {
		t.Errorf("while holding: %+v, want Open 1 InUse 1 Created 1", st)
	}
	_, err = e.Do(ctxT(t), &engine.Request{Method: "POST", URL: srv.URL + "/x", Body: []byte("{}")})
	if !errors.Is(err, engine.ErrPoolTimeout) || !engine.IsTimeout(err) {
		t.Fatalf("second request with the only slot taken: %v, want ErrPoolTimeout", err)
	}
	if w := e.PoolStats().Waits; w != 1 {
		t.Errorf("Waits = %d, want 1", w)
	}
	// A waiter gets the slot as soon as the holder closes its body.
	got := make(chan error, 1)
	go func() {
		resp, err := e.Do(ctxT(t), &engine.Request{Method: "POST", URL: srv.URL + "/x", Body: []byte("{}")})
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		got <- err
	}()
	eventually(t, "second waiter queued", func() bool { return e.PoolStats().Waits >= 2 })
	held.Body.Close()
	if err := <-got; err != nil {
		t.Fatalf("request after the slot was freed: %v", err)
	}
	for range 2 {
		resp, err := e.Do(ctxT(t), &engine.Request{Method: "GET", URL: srv.URL + "/x"})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	st := e.PoolStats()
	// The held connection was closed half-read, so 2 were dialed; the last
	// three requests went over the second one.
	if st.Created != 2 || st.InUse != 0 || st.Reused != 2 {
		t.Errorf("after requests: %+v, want Created 2 InUse 0 Reused 2", st)
	}
	// net/http closes the abandoned connection on its read loop goroutine,
	// shortly after Body.Close returned.
	eventually(t, "Open 1 Idle 1", func() bool { st := e.PoolStats(); return st.Open == 1 && st.Idle == 1 })
	e.Close()
	if st := e.PoolStats(); st.Open != 0 {
		t.Errorf("after Close: Open = %d, want 0", st.Open)
	}
}

func TestDialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	e := newTestEngine(t, nil)
	_, err = e.Do(ctxT(t), &engine.Request{Method: "GET", URL: "http://" + addr + "/"})
	if !errors.Is(err, engine.ErrDial) {
		t.Fatalf("connect to a closed port: %v, want ErrDial", err)
	}
}

func TestTLSUnknownAuthorityIsDialError(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	e := newTestEngine(t, nil) // system roots do not trust httptest's CA
	_, err := e.Do(ctxT(t), &engine.Request{Method: "GET", URL: srv.URL})
	if !errors.Is(err, engine.ErrDial) {
		t.Fatalf("untrusted certificate: %v, want ErrDial", err)
	}
}

func TestWriteTimeout(t *testing.T) {
	// An upstream that accepts but never reads, with a small receive buffer:
	// the request body cannot be written once the socket buffers are full.
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	defer func() {
		if c := <-accepted; c != nil {
			c.Close()
		}
	}()
	e := newTestEngine(t, func(c *engine.Config) { c.WriteTimeout = 100 * time.Millisecond })
	_, err = e.Do(ctxT(t), &engine.Request{Method: "POST", URL: "http://" + ln.Addr().String() + "/", Body: make([]byte, 16<<20)})
	if !errors.Is(err, engine.ErrWriteTimeout) {
		t.Fatalf("stalled request write: %v, want ErrWriteTimeout", err)
	}
}

func TestCompressedBodyKeepsConnection(t *testing.T) {
	plain := bytes.Repeat([]byte(`{"a":"b"}`), 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// zlib stops reading at its checksum, before the raw body's EOF.
		w.Header().Set("Content-Encoding", "deflate")
		zw := zlib.NewWriter(w)
		_, _ = zw.Write(plain)
		_ = zw.Close()
	}))
	defer srv.Close()
	e := newTestEngine(t, nil)
	for range 3 {
		resp, err := e.Do(ctxT(t), &engine.Request{Method: "GET", URL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(b, plain) || resp.Decoded != "deflate" {
			t.Fatalf("body %d bytes, err %v, decoded %q", len(b), err, resp.Decoded)
		}
	}
	if c := e.PoolStats().Created; c != 1 {
		t.Fatalf("3 deflate responses read to EOF used %d connections, want 1", c)
	}
}

func TestDescribe(t *testing.T) {
	e := newTestEngine(t, func(c *engine.Config) {
		c.H2C = true
		c.MaxConnsPerHost = 7
		c.IdleReadTimeout = 42 * time.Second
	})
	d := e.Describe()
	if d["engine"] != Name || d["max_conns_per_host"] != 7 || d["idle_read_timeout"] != "42s" {
		t.Fatalf("Describe = %v", d)
	}
	protos, _ := d["protocols"].([]string)
	if len(protos) != 3 {
		t.Fatalf("protocols = %v, want HTTP/1.1, h2, h2c", protos)
	}
}

// TestHTTP2SkipsConnectionSlots checks that the HTTP/1.1 connection bound
// does not limit multiplexed HTTP/2 streams: with MaxConnsPerHost 1, a held
// stream does not block a second request once the host spoke HTTP/2.
func TestHTTP2SkipsConnectionSlots(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
		w.(http.Flusher).Flush()
		if r.URL.Path == "/hold" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	defer close(release)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	e := newTestEngine(t, func(c *engine.Config) {
		c.MaxConnsPerHost = 1
		c.PoolTimeout = 50 * time.Millisecond
		c.TLS = &tls.Config{RootCAs: pool}
	})
	first, err := e.Do(ctxT(t), &engine.Request{Method: "GET", URL: srv.URL + "/first"})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(first.Body)
	first.Body.Close()
	if first.Proto != "HTTP/2.0" {
		t.Fatalf("proto %s, want HTTP/2.0", first.Proto)
	}
	held, err := e.Do(ctxT(t), &engine.Request{Method: "GET", URL: srv.URL + "/hold"})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Body.Close()
	resp, err := e.Do(ctxT(t), &engine.Request{Method: "GET", URL: srv.URL + "/second"})
	if err != nil {
		t.Fatalf("second stream while one is held: %v", err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if st := e.PoolStats(); st.Created != 1 || st.Waits != 0 {
		t.Errorf("stats %+v, want Created 1 Waits 0", st)
	}
}

func TestCodedEmptyBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		if r.URL.Path == "/204" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Length", "0")
	}))
	defer srv.Close()
	e := newTestEngine(t, nil)
	for _, tc := range []struct{ method, path string }{{"HEAD", "/"}, {"GET", "/204"}, {"GET", "/empty"}} {
		resp, err := e.Do(ctxT(t), &engine.Request{Method: tc.method, URL: srv.URL + tc.path})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(b) != 0 || resp.Decoded != "" {
			t.Errorf("%s %s: body %q, err %v, decoded %q; want empty, nil, none", tc.method, tc.path, b, err, resp.Decoded)
		}
	}
}
