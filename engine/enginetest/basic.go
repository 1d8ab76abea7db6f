package enginetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/engine"
)

// echo answers with the request body, the protocol and method in headers.
func echo(_ *upstream, w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Proto", r.Proto)
	w.Header().Set("X-Method", r.Method)
	w.Header().Set("X-Path", r.URL.Path)
	_, _ = w.Write(b)
}

func (s *suite) testUnary(t *testing.T, kind string) {
	u, e := s.setup(t, kind, nil, echo)
	body := []byte(`{"model":"m","stream":false}`)
	resp := do(t, e, testCtx(t), &engine.Request{Method: http.MethodPost, URL: u.URL + "/v1/chat/completions",
		Header: http.Header{"Content-Type": {"application/json"}}, Body: body})
	got := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("body %q, want %q", got, body)
	}
	if m, p := resp.Header.Get("X-Method"), resp.Header.Get("X-Path"); m != "POST" || p != "/v1/chat/completions" {
		t.Fatalf("upstream saw %s %s", m, p)
	}
	// GET without a body.
	resp = do(t, e, testCtx(t), &engine.Request{Method: http.MethodGet, URL: u.URL + "/v1/models"})
	if got := readBody(t, resp); len(got) != 0 || resp.Header.Get("X-Method") != "GET" {
		t.Fatalf("GET: body %q, method %q", got, resp.Header.Get("X-Method"))
	}
	// The same Request may be sent again, and by many requests at once: Do
	// neither retains nor modifies it (its Header included).
	req := &engine.Request{Method: http.MethodPost, URL: u.URL + "/again", Body: body,
		Header: http.Header{"Content-Type": {"application/json"}}}
	for i := range 2 {
		if got := readBody(t, do(t, e, testCtx(t), req)); !bytes.Equal(got, body) {
			t.Fatalf("re-send %d: body %q", i, got)
		}
	}
	if len(req.Header) != 1 || req.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("Do modified the request header: %v", req.Header)
	}
}

func (s *suite) testNon2xx(t *testing.T, kind string) {
	const errBody = `{"error":{"message":"overloaded","type":"server_error"}}`
	u, e := s.setup(t, kind, nil, func(_ *upstream, w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, errBody)
	})
	resp, err := e.Do(testCtx(t), &engine.Request{Method: http.MethodPost, URL: u.URL + "/x", Body: []byte("{}")})
	if err != nil {
		t.Fatalf("Do returned an error for a 503: %v", err)
	}
	if got := string(readBody(t, resp)); got != errBody {
		t.Fatalf("body %q", got)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "7" {
		t.Fatalf("status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func (s *suite) testHeaders(t *testing.T, kind string) {
	// A small and a large body: engines may write the two differently
	// (fasthttp gathers head and a large body into one writev).
	for _, size := range []int{2, 64 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) { s.testHeadersBody(t, kind, size) })
	}
}

func (s *suite) testHeadersBody(t *testing.T, kind string, size int) {
	type seen struct {
		h       http.Header
		host    string
		n       int64
		sum     [32]byte
		declLen int64
	}
	body := bytes.Repeat([]byte("x"), size)
	got := make(chan seen, 1)
	u, e := s.setup(t, kind, nil, func(_ *upstream, w http.ResponseWriter, r *http.Request) {
		hs := sha256.New()
		n, _ := io.Copy(hs, r.Body)
		sn := seen{h: r.Header.Clone(), host: r.Host, n: n, declLen: r.ContentLength}
		hs.Sum(sn.sum[:0])
		got <- sn
		h := w.Header()
		h.Set("Content-Type", "text/plain")
		h.Set("X-Request-Id", "req_123")
		h.Add("X-Multi", "one")
		h.Add("X-Multi", "two")
		// Hop-by-hop headers the engine must not hand back.
		h.Set("Keep-Alive", "timeout=5")
		h.Set("Proxy-Connection", "keep-alive")
		h.Set("Upgrade", "foo/1")
		_, _ = io.WriteString(w, "ok")
	})
	req := &engine.Request{Method: http.MethodPost, URL: u.URL + "/h", Body: body, Header: http.Header{
		"Authorization":     {"Bearer sk-test"},
		"Content-Type":      {"application/json"},
		"User-Agent":        {"ccproxy-test/1"},
		"Anthropic-Version": {"2023-06-01"},
		"X-Multi-In":        {"a", "b"},
	}}
	resp := do(t, e, testCtx(t), req)
	if b := readBody(t, resp); string(b) != "ok" {
		t.Fatalf("body %q", b)
	}
	var sn seen
	select {
	case sn = <-got:
	default:
		t.Fatal("handler did not run")
	}
	for _, k := range []string{"Authorization", "Content-Type", "User-Agent", "Anthropic-Version"} {
		if sn.h.Get(k) != req.Header.Get(k) {
			t.Errorf("upstream saw %s=%q, want %q", k, sn.h.Get(k), req.Header.Get(k))
		}
	}
	if v := sn.h.Values("X-Multi-In"); len(v) != 2 || v[0] != "a" || v[1] != "b" {
		t.Errorf("upstream saw X-Multi-In=%q, want [a b]", v)
	}
	if sn.n != int64(size) || sn.declLen != int64(size) || sn.sum != sha256.Sum256(body) {
		t.Errorf("upstream read %d bytes (Content-Length %d), want %d intact", sn.n, sn.declLen, size)
	}
	if want := u.URL[strings.Index(u.URL, "://")+3:]; sn.host != want {
		t.Errorf("upstream saw Host %q, want %q", sn.host, want)
	}
	if resp.Header.Get("X-Request-Id") != "req_123" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("response headers lost: %v", resp.Header)
	}
	if v := resp.Header.Values("X-Multi"); len(v) != 2 || v[0] != "one" || v[1] != "two" {
		t.Errorf("X-Multi=%q, want [one two]", v)
	}
	for _, k := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Te", "Trailer", "Upgrade"} {
		if v, ok := resp.Header[k]; ok {
			t.Errorf("hop-by-hop header %s=%q not removed", k, v)
		}
	}
}

// testLargeResponseHead: response heads of 12 and 100 KB (gateways add
// many headers) are read whole, and a streamed body after them arrives
// intact; Go's server accepts far larger, and so must the engine within
// reason. The connection then serves an ordinary request.
func (s *suite) testLargeResponseHead(t *testing.T, kind string) {
	u, e := s.setup(t, kind, nil, func(_ *upstream, w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("kb"))
		if n > 0 {
			w.Header().Set("X-Big", strings.Repeat("v", n<<10))
		}
		for i := range 3 {
			fmt.Fprintf(w, "part%d;", i)
			w.(http.Flusher).Flush()
		}
	})
	for _, kb := range []int{12, 100, 0} {
		resp := do(t, e, testCtx(t), &engine.Request{Method: http.MethodPost, URL: u.URL + "/big-head?kb=" + strconv.Itoa(kb), Body: []byte("{}")})
		if b := readBody(t, resp); string(b) != "part0;part1;part2;" || len(resp.Header.Get("X-Big")) != kb<<10 {
			t.Fatalf("%d KB head: body %q, X-Big of %d bytes", kb, b, len(resp.Header.Get("X-Big")))
		}
	}
}

func (s *suite) testProto(t *testing.T, kind string) {
	u, e := s.setup(t, kind, nil, echo)
	resp := do(t, e, testCtx(t), &engine.Request{Method: http.MethodGet, URL: u.URL + "/proto"})
	readBody(t, resp)
	want := s.wantProto(kind)
	if got := resp.Header.Get("X-Proto"); got != want {
		t.Errorf("upstream saw %s, want %s", got, want)
	}
	if resp.Proto != want {
		t.Errorf("Response.Proto = %q, want %q", resp.Proto, want)
	}
}

func (s *suite) testLargeBodies(t *testing.T, kind string) {
	const size = 5 << 20
	reqBody, respBody := s.largeBodies(size)
	u, e := s.setup(t, kind, nil, func(_ *upstream, w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Req-Len", fmt.Sprint(n))
		w.Header().Set("X-Req-Sha", hex.EncodeToString(h.Sum(nil)))
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", fmt.Sprint(len(respBody)))
		}
		for off := 0; off < len(respBody); off += 100_000 {
			if _, err := w.Write(respBody[off:min(off+100_000, len(respBody))]); err != nil {
				return
			}
		}
	})
	sum := sha256.Sum256(reqBody)
	for _, q := range []string{"", "?chunked=1"} {
		resp := do(t, e, testCtx(t), &engine.Request{Method: http.MethodPost, URL: u.URL + "/big" + q, Body: reqBody})
		got := readBody(t, resp)
		if resp.Header.Get("X-Req-Len") != fmt.Sprint(size) || resp.Header.Get("X-Req-Sha") != hex.EncodeToString(sum[:]) {
			t.Fatalf("%s: upstream got %s bytes, sha %s", q, resp.Header.Get("X-Req-Len"), resp.Header.Get("X-Req-Sha"))
		}
		if !bytes.Equal(got, respBody) {
			t.Fatalf("%s: response body differs (got %d bytes, want %d)", q, len(got), len(respBody))
		}
	}
}

// largeBodies returns two different pseudo-random bodies of size bytes,
// generated once per Run.
func (s *suite) largeBodies(size int) (req, resp []byte) {
	s.bigOnce.Do(func() {
		rng := rand.NewChaCha8([32]byte{1, 2, 3})
		s.bigReq, s.bigResp = make([]byte, size), make([]byte, size)
		_, _ = rng.Read(s.bigReq)
		_, _ = rng.Read(s.bigResp)
	})
	return s.bigReq, s.bigResp
}

func (s *suite) testConnReuse(t *testing.T, kind string) {
	u, e := s.setup(t, kind, nil, echo)
	for i := range 5 {
		body := []byte(fmt.Sprintf(`{"i":%d}`, i))
		if got := readBody(t, do(t, e, testCtx(t), &engine.Request{Method: http.MethodPost, URL: u.URL + "/r", Body: body})); !bytes.Equal(got, body) {
			t.Fatalf("request %d: body %q", i, got)
		}
	}
	if n := u.conns.Load(); n != 1 {
		t.Fatalf("5 sequential requests used %d connections, want 1", n)
	}
}

func (s *suite) testParallel(t *testing.T, kind string) {
	const goroutines, perG = 32, 8
	u, e := s.setup(t, kind, nil, echo)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				body := []byte(fmt.Sprintf(`{"g":%d,"i":%d}`, g, i))
				resp, err := e.Do(testCtx(t), &engine.Request{Method: http.MethodPost, URL: u.URL + "/p", Body: body})
				if err != nil {
					errs <- fmt.Errorf("g%d i%d: %w", g, i, err)
					return
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || !bytes.Equal(got, body) {
					errs <- fmt.Errorf("g%d i%d: body %q err %v", g, i, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// testBodyNotRetained: an upstream that answers before it has read the
// request body lets Do return while the body is still in flight. The caller
// then owns req.Body again and may overwrite it (Do does not retain it):
// the upstream must still receive the original bytes. Under -race a
// violation also shows up as a data race on the slice.
func (s *suite) testBodyNotRetained(t *testing.T, kind string) {
	const size = 4 << 20 // the head is flushed before the upstream reads a byte
	sums := make(chan string, 1)
	u, e := s.setup(t, kind, nil, func(_ *upstream, w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex() // HTTP/1.1; HTTP/2 is always full duplex
		w.WriteHeader(http.StatusOK)
		flush(w)
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			sums <- "read error: " + err.Error()
			return
		}
		sums <- fmt.Sprintf("%d %x", n, h.Sum(nil))
	})
	body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	want := fmt.Sprintf("%d %x", size, sha256.Sum256(body))
	resp := do(t, e, testCtx(t), &engine.Request{Method: http.MethodPost, URL: u.URL + "/early", Body: body})
	for i := range body {
		body[i] = 'X'
	}
	readBody(t, resp)
	select {
	case got := <-sums:
		if got != want {
			t.Fatalf("upstream received %s, want %s (engine read req.Body after Do returned)", got, want)
		}
	case <-time.After(waitLimit):
		t.Fatal("upstream did not finish reading the request body")
	}
}
