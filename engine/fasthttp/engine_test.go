package fasthttp

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	fh "github.com/valyala/fasthttp"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/engine/enginetest"
)

func TestConformance(t *testing.T) {
	enginetest.Run(t, enginetest.Harness{
		New:       func(cfg engine.Config) (engine.Engine, error) { return New(cfg) },
		Upstreams: []string{"h1", "h1tls"},
		WantProto: map[string]string{"h1": "HTTP/1.1", "h1tls": "HTTP/1.1"},
	})
}

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

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawServer accepts connections on 127.0.0.1 and runs serve on each; it
// records every request head it reads.
type rawServer struct {
	ln    net.Listener
	addr  string
	heads chan string
}

// get sends a GET for the raw (identity) body through a new engine.
func (s *rawServer) get(t *testing.T) *engine.Response {
	t.Helper()
	resp, err := newTestEngine(t, nil).Do(testCtx(t), &engine.Request{Method: "GET", URL: "http://" + s.addr + "/", Header: http.Header{"Accept-Encoding": {"identity"}}})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func newRawServer(t *testing.T, serve func(c net.Conn, br *bufio.Reader, head string)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, addr: ln.Addr().String(), heads: make(chan string, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				var head strings.Builder
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					head.WriteString(line)
					if line == "\r\n" {
						break
					}
				}
				h := head.String()
				if i := strings.Index(strings.ToLower(h), "content-length: "); i >= 0 {
					var n int
					fmt.Sscanf(h[i+len("content-length: "):], "%d", &n)
					_, _ = io.CopyN(io.Discard, br, int64(n))
				}
				s.heads <- h
				serve(c, br, h)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func TestRequestHeadersExact(t *testing.T) {
	s := newRawServer(t, func(c net.Conn, _ *bufio.Reader, _ string) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Lower: v\r\nConnection: close\r\nKeep-Alive: timeout=5\r\n\r\nok")
	})
	e := newTestEngine(t, nil)
	hdr := http.Header{}
	hdr["x-api-KEY"] = []string{"k"}
	hdr["Content-Type"] = []string{"application/json"}
	hdr["Connection"] = []string{"keep-alive"}
	resp, err := e.Do(testCtx(t), &engine.Request{Method: "POST", URL: "http://" + s.addr + "/v1/chat/completions?x=1", Header: hdr, Body: []byte(`{"a":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "ok" {
		t.Fatalf("body %q err %v", b, err)
	}
	head := <-s.heads
	for _, want := range []string{"POST /v1/chat/completions?x=1 HTTP/1.1\r\n", "\r\nx-api-KEY: k\r\n", "\r\nContent-Type: application/json\r\n", "\r\nContent-Length: 7\r\n", "\r\nAccept-Encoding: " + engine.AcceptEncoding + "\r\n", "\r\nHost: " + s.addr + "\r\n"} {
		if !strings.Contains(head, want) {
			t.Errorf("request head lacks %q:\n%s", want, head)
		}
	}
	for _, bad := range []string{"User-Agent", "keep-alive", "octet-stream"} {
		if strings.Contains(head, bad) {
			t.Errorf("request head has %q:\n%s", bad, head)
		}
	}
	if resp.Header.Get("X-Lower") != "v" || resp.Header.Get("Connection") != "" || resp.Header.Get("Keep-Alive") != "" {
		t.Errorf("response header %v", resp.Header)
	}
	if resp.Proto != "HTTP/1.1" || resp.StatusCode != 200 {
		t.Errorf("proto %q status %d", resp.Proto, resp.StatusCode)
	}
}

func TestNoBodyNoContentType(t *testing.T) {
	s := newRawServer(t, func(c net.Conn, _ *bufio.Reader, _ string) {
		io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
	})
	e := newTestEngine(t, nil)
	resp, err := e.Do(testCtx(t), &engine.Request{Method: "GET", URL: "http://" + s.addr + "/"})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Content-Type") != "" {
		t.Fatalf("status %d header %v", resp.StatusCode, resp.Header)
	}
	if n, err := resp.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("read %d %v", n, err)
	}
}

func TestTruncatedBodies(t *testing.T) {
	for name, raw := range map[string]string{
		"chunked-mid-chunk": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
		"chunked-no-last":   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
		"chunked-no-crlf":   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello",
		"short-content-len": "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
	} {
		t.Run(name, func(t *testing.T) {
			s := newRawServer(t, func(c net.Conn, _ *bufio.Reader, _ string) { io.WriteString(c, raw) })
			resp := s.get(t)
			defer resp.Body.Close()
			_, err := io.ReadAll(resp.Body)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
			}
		})
	}
}

// sseServer sends one event per true received on next, ends the response
// on false, and closes gone (if not nil) when the client goes away.
func sseServer(t *testing.T, next <-chan bool, gone chan<- struct{}) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // lets net/http notice a client that goes away
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for i := 0; ; i++ {
			select {
			case more := <-next:
				if !more {
					return
				}
				fmt.Fprintf(w, "data: %d\n\n", i)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				if gone != nil {
					close(gone)
				}
				return
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func TestStreamPromptAndReuse(t *testing.T) {
	next := make(chan bool)
	s := sseServer(t, next, nil)
	e := newTestEngine(t, nil)
	for round := range 2 {
		resp, err := e.Do(testCtx(t), &engine.Request{Method: "POST", URL: s.URL + "/stream", Body: []byte("{}")})
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		for i := range 3 {
			next <- true // event i is sent only now: reading it proves nothing waits for the end
			line, err := br.ReadString('\n')
			if err != nil || line != fmt.Sprintf("data: %d\n", i) {
				t.Fatalf("round %d event %d: %q %v", round, i, line, err)
			}
			if _, err := br.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
		}
		next <- false
		if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
			t.Fatalf("rest %q err %v", rest, err)
		}
		resp.Body.Close()
	}
	st := e.PoolStats()
	if st.Created != 1 || st.Reused != 1 || st.Open != 1 || st.Idle != 1 {
		t.Fatalf("pool stats %+v, want one connection used twice", st)
	}
}

func TestCancelMidBody(t *testing.T) {
	next := make(chan bool)
	gone := make(chan struct{})
	s := sseServer(t, next, gone)
	e := newTestEngine(t, nil)
	ctx, cancel := context.WithCancel(testCtx(t))
	resp, err := e.Do(ctx, &engine.Request{Method: "POST", URL: s.URL, Body: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	next <- true
	buf := make([]byte, 64)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(buf) // blocks: the upstream sends nothing more
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("read err = %v, want context.Canceled", err)
	}
	<-gone // the upstream saw the connection close
	resp.Body.Close()
	if st := e.PoolStats(); st.Open != 0 {
		t.Fatalf("connection kept after cancel: %+v", st)
	}
}

func TestCloseBeforeEOFDiscards(t *testing.T) {
	next := make(chan bool)
	gone := make(chan struct{})
	s := sseServer(t, next, gone)
	e := newTestEngine(t, nil)
	resp, err := e.Do(testCtx(t), &engine.Request{Method: "POST", URL: s.URL, Body: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	next <- true
	if _, err := resp.Body.Read(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	<-gone
	if st := e.PoolStats(); st.Open != 0 || st.Idle != 0 {
		t.Fatalf("half-read connection pooled: %+v", st)
	}
	if _, err := resp.Body.Read(make([]byte, 8)); err == nil {
		t.Fatal("read after close succeeded")
	}
}

func TestCancelHeaderWait(t *testing.T) {
	gone := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
		close(gone)
	}))
	t.Cleanup(s.Close)
	e := newTestEngine(t, nil)
	ctx, cancel := context.WithCancel(testCtx(t))
	errc := make(chan error, 1)
	go func() {
		_, err := e.Do(ctx, &engine.Request{Method: "POST", URL: s.URL, Body: []byte("{}")})
		errc <- err
	}()
	// cancel once the upstream has the request: wait until a connection exists
	for e.PoolStats().Created == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	<-gone
}

func TestTimeouts(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.WriteHeader(200)
			io.WriteString(w, "x")
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(s.Close)
	e := newTestEngine(t, func(c *engine.Config) {
		c.ResponseHeaderTimeout = 50 * time.Millisecond
		c.IdleReadTimeout = 50 * time.Millisecond
	})
	_, err := e.Do(testCtx(t), &engine.Request{Method: "GET", URL: s.URL + "/head"})
	if !errors.Is(err, engine.ErrHeaderTimeout) {
		t.Fatalf("head: err = %v, want ErrHeaderTimeout", err)
	}
	resp, err := e.Do(testCtx(t), &engine.Request{Method: "GET", URL: s.URL + "/body"})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if string(b) != "x" || !errors.Is(err, engine.ErrIdleTimeout) {
		t.Fatalf("body %q err = %v, want ErrIdleTimeout", b, err)
	}
}

func TestPoolTimeoutAndDialError(t *testing.T) {
	next := make(chan bool)
	s := sseServer(t, next, nil)
	e := newTestEngine(t, func(c *engine.Config) {
		c.MaxConnsPerHost = 1
		c.PoolTimeout = 50 * time.Millisecond
	})
	resp, err := e.Do(testCtx(t), &engine.Request{Method: "GET", URL: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, err = e.Do(testCtx(t), &engine.Request{Method: "GET", URL: s.URL})
	if !errors.Is(err, engine.ErrPoolTimeout) {
		t.Fatalf("err = %v, want ErrPoolTimeout", err)
	}
	if st := e.PoolStats(); st.Waits != 1 {
		t.Errorf("waits = %d", st.Waits)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = e.Do(testCtx(t), &engine.Request{Method: "GET", URL: "http://" + addr + "/"})
	if !errors.Is(err, engine.ErrDial) {
		t.Fatalf("err = %v, want ErrDial", err)
	}
}

func gzipServer(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-AE", r.Header.Get("Accept-Encoding"))
		w.Header().Set("Content-Encoding", "gzip")
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		io.WriteString(zw, "hello gzip")
		zw.Close()
		w.Header().Set("Content-Length", fmt.Sprint(buf.Len()))
		w.Write(buf.Bytes())
	}))
	t.Cleanup(s.Close)
	return s
}

func TestCompression(t *testing.T) {
	s := gzipServer(t)
	e := newTestEngine(t, nil)
	resp, err := e.Do(testCtx(t), &engine.Request{Method: "GET", URL: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "hello gzip" || resp.Decoded != "gzip" {
		t.Fatalf("decoded %q %q err %v", b, resp.Decoded, err)
	}
	if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Content-Length") != "" || resp.Header.Get("X-Seen-AE") != engine.AcceptEncoding {
		t.Fatalf("header %v", resp.Header)
	}

	resp, err = e.Do(testCtx(t), &engine.Request{Method: "GET", URL: s.URL, Header: http.Header{"Accept-Encoding": {"gzip"}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.Decoded != "" || resp.Header.Get("Content-Encoding") != "gzip" || fmt.Sprint(len(b)) != resp.Header.Get("Content-Length") {
		t.Fatalf("passthrough: len %d header %v decoded %q err %v", len(b), resp.Header, resp.Decoded, err)
	}
	if st := e.PoolStats(); st.Created != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestTLSAndProxy(t *testing.T) {
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %v", r.Proto, r.TLS != nil)
	}))
	t.Cleanup(s.Close)
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())

	var connects atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "only CONNECT", http.StatusMethodNotAllowed)
			return
		}
		connects.Add(1)
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(200)
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		go func() { io.Copy(up, brw); up.Close() }()
		io.Copy(c, up)
		c.Close()
	}))
	t.Cleanup(proxy.Close)
	proxyURL, _ := url.Parse(proxy.URL)

	for _, viaProxy := range []bool{false, true} {
		e := newTestEngine(t, func(c *engine.Config) {
			c.TLS = &tls.Config{RootCAs: pool}
			if viaProxy {
				c.Proxy = func(*url.URL) (*url.URL, error) { return proxyURL, nil }
			}
		})
		resp, err := e.Do(testCtx(t), &engine.Request{Method: "GET", URL: s.URL + "/"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != "HTTP/1.1 true" {
			t.Fatalf("proxy=%v: %q %v", viaProxy, b, err)
		}
	}
	if connects.Load() != 1 {
		t.Fatalf("CONNECTs = %d, want 1", connects.Load())
	}

	// a TLS failure is a dial error
	e := newTestEngine(t, nil)
	if _, err := e.Do(testCtx(t), &engine.Request{Method: "GET", URL: s.URL}); !errors.Is(err, engine.ErrDial) {
		t.Fatalf("untrusted cert: err = %v, want ErrDial", err)
	}
}

func TestHostKey(t *testing.T) {
	for in, want := range map[string]string{
		"http://a:1/x?y":    "http://a:1",
		"HTTPS://h.example": "HTTPS://h.example",
		"https://h?q#f":     "https://h",
		"ftp://x/":          "",
		"/relative":         "",
		"http:///nohost":    "",
	} {
		got, _, err := hostKey(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("hostKey(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestRegisteredAndDescribe(t *testing.T) {
	e, err := engine.New(Name, engine.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	d := e.(engine.Describer).Describe()
	if d["http2"] != false || d["engine"] != Name {
		t.Fatalf("describe %v", d)
	}
}

// TestReadBatchesBufferedChunks: chunks that arrived together come back
// from one Read, a chunk still on its way does not hold them back, and the
// body still ends cleanly.
func TestReadBatchesBufferedChunks(t *testing.T) {
	rest := make(chan struct{})
	s := newRawServer(t, func(c net.Conn, _ *bufio.Reader, _ string) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+
			"7\r\ndata: 1\r\n7\r\ndata: 2\r\n7\r\ndata: 3\r\n"+"7\r\ndata") // the 4th chunk is incomplete
		<-rest
		io.WriteString(c, ": 4\r\n0\r\n\r\n")
	})
	resp := s.get(t)
	defer resp.Body.Close()
	// The server wrote the head and the chunks in one write, so the chunks
	// are buffered by the time the head has been read.
	buf := make([]byte, 4096)
	n, err := resp.Body.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "data: 1data: 2data: 3" {
		t.Fatalf("got %q", got)
	}
	close(rest)
	tail, err := io.ReadAll(resp.Body)
	if err != nil || string(tail) != "data: 4" {
		t.Fatalf("tail %q, %v", tail, err)
	}
}

func TestCompleteChunkBuffered(t *testing.T) {
	for in, want := range map[string]bool{
		"5\r\nhello\r\n":            true,
		"5;ext=1\r\nhello\r\nx":     true,
		"A\r\n0123456789\r\n":       true,
		"5\r\nhell":                 false,
		"5\r\nhello\r":              false,
		"0\r\n\r\n":                 true, // the last chunk, no trailers
		"0\r\n":                     false,
		"0\r\n\r":                   false,
		"0\r\nX-T: 1\r\n\r\n":       false, // trailers: not handled here
		"00\r\n\r\n":                true,
		"8000000000000000\r\nx\r\n": false, // would overflow: must not panic
		"fffffffffffffff\r\nx\r\n":  false, // larger than the buffer
		"\r\n":                      false,
		"zz\r\n":                    false,
		"":                          false,
	} {
		br := bufio.NewReaderSize(strings.NewReader(in), 64)
		br.Peek(len(in))
		if got := completeChunkBuffered(br); got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}

// TestReadEndsWithLastData: when the last chunk has arrived with the data
// before it, one Read returns that data and io.EOF together, so a stream's
// consumer knows the body is over without another (possibly blocking) Read.
func TestReadEndsWithLastData(t *testing.T) {
	s := newRawServer(t, func(c net.Conn, _ *bufio.Reader, _ string) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+
			"7\r\ndata: 1\r\n7\r\ndata: 2\r\n0\r\n\r\n")
	})
	resp := s.get(t)
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	n, err := resp.Body.Read(buf)
	if string(buf[:n]) != "data: 1data: 2" || err != io.EOF {
		t.Fatalf("Read = %q, %v; want both chunks and io.EOF", buf[:n], err)
	}
}

// TestGathered: which requests leave as one writev of head and body.
func TestGathered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tcp, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	tlsConn := tls.Client(tcp, &tls.Config{InsecureSkipVerify: true})
	large, small := make([]byte, 64<<10), make([]byte, 100)
	for _, c := range []struct {
		name string
		conn net.Conn
		url  string
		body []byte
		want bool
	}{
		{"tcp large", tcp, "http://h/v1/chat/completions", large, true},
		{"tcp large, as dialed", &pendingConn{conn: tcp}, "http://h/v1/chat/completions", large, true},
		{"tls large, as dialed", &pendingConn{conn: tlsConn}, "https://h/v1/chat/completions", large, false},
		{"tcp small", tcp, "http://h/v1/chat/completions", small, false},
		{"tls large", tlsConn, "https://h/v1/chat/completions", large, false},
		{"credentials in the URL", tcp, "http://u:p@h/v1/chat/completions", large, false},
	} {
		req := fh.AcquireRequest()
		req.SetRequestURI(c.url)
		if _, got := gathered(c.conn, req, c.body); got != c.want {
			t.Errorf("%s: gathered %v, want %v", c.name, got, c.want)
		}
		fh.ReleaseRequest(req)
	}
}

// TestHeadLimit: a response head beyond maxHeadSize is an error, whether
// the upstream then closes or keeps the connection open; heads within it
// are read through buffers that grow (see the conformance suite).
func TestHeadLimit(t *testing.T) {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	for _, kb := range []int{maxHeadSize>>10 + 1, 2 * maxHeadSize >> 10} {
		s := newRawServer(t, func(c net.Conn, _ *bufio.Reader, _ string) {
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nX-Big: %s\r\nContent-Length: 2\r\n\r\nok", strings.Repeat("v", kb<<10))
			<-done // keep the connection open: no EOF ends the read, only the limit
		})
		resp, err := newTestEngine(t, nil).Do(testCtx(t), &engine.Request{Method: "GET", URL: "http://" + s.addr + "/"})
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%d KB head: no error", kb)
		}
		if !strings.Contains(err.Error(), "larger than") {
			t.Errorf("%d KB head: error %v, want the head limit", kb, err)
		}
	}
}
