package enginetest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/ccproxy/ccproxy/engine"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

var codings = []string{"gzip", "deflate", "br", "zstd"}

// flushWriter is a compressing writer that can flush what it has so far.
type flushWriter interface {
	io.WriteCloser
	Flush() error
}

func newEncoder(coding string, w io.Writer) flushWriter {
	switch coding {
	case "gzip":
		return gzip.NewWriter(w)
	case "deflate":
		return zlib.NewWriter(w)
	case "br":
		return brotli.NewWriter(w)
	case "zstd":
		zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(err)
		}
		return zw
	}
	panic("enginetest: unknown coding " + coding)
}

func compress(coding string, b []byte) []byte {
	var buf bytes.Buffer
	zw := newEncoder(coding, &buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// plainJSON is a compressible body a few times larger than a buffer.
var plainJSON = []byte(strings.Repeat(`{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hello world"}}]}`+"\n", 200))

// compressedHandler answers with plainJSON encoded as ?c=coding and reports
// the Accept-Encoding it saw in X-Seen-Accept-Encoding.
func compressedHandler(_ *upstream, w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	c := r.URL.Query().Get("c")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Encoding", c)
	w.Header().Set("X-Seen-Accept-Encoding", r.Header.Get("Accept-Encoding"))
	body := compress(c, plainJSON)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	_, _ = w.Write(body)
}

func (s *suite) testCompression(t *testing.T, kind string) {
	u, e := s.setup(t, kind, nil, compressedHandler)
	for _, c := range codings {
		resp := do(t, e, testCtx(t), &engine.Request{Method: http.MethodPost, URL: u.URL + "/z?c=" + c, Body: []byte("{}")})
		got := readBody(t, resp)
		if !bytes.Equal(got, plainJSON) {
			t.Errorf("%s: decoded body differs (%d bytes, want %d)", c, len(got), len(plainJSON))
		}
		if ae := resp.Header.Get("X-Seen-Accept-Encoding"); ae != engine.AcceptEncoding {
			t.Errorf("%s: upstream saw Accept-Encoding %q, want %q", c, ae, engine.AcceptEncoding)
		}
		if resp.Decoded != c {
			t.Errorf("%s: Response.Decoded = %q", c, resp.Decoded)
		}
		for _, k := range []string{"Content-Encoding", "Content-Length"} {
			if v := resp.Header.Get(k); v != "" {
				t.Errorf("%s: %s=%q kept on a decoded body", c, k, v)
			}
		}
	}
}

func (s *suite) testCompressedStream(t *testing.T, kind string) {
	proceed := map[string]chan struct{}{}
	for _, c := range codings {
		proceed[c] = make(chan struct{})
	}
	u, e := s.setup(t, kind, nil, func(u *upstream, w http.ResponseWriter, r *http.Request) {
		c := r.URL.Query().Get("c")
		w.Header().Set("Content-Encoding", c)
		sseHead(w)
		zw := newEncoder(c, w)
		write := func(i int) {
			_, _ = io.WriteString(zw, event(i))
			_ = zw.Flush()
			flush(w)
		}
		write(0)
		select {
		case <-proceed[c]:
		case <-r.Context().Done():
			return
		case <-u.done:
			return
		}
		for i := 1; i < 4; i++ {
			write(i)
		}
		_ = zw.Close()
	})
	for _, c := range codings {
		t.Run(c, func(t *testing.T) {
			resp := do(t, e, testCtx(t), &engine.Request{Method: http.MethodPost, URL: u.URL + "/sse?c=" + c, Body: []byte("{}")})
			defer resp.Body.Close()
			if resp.Decoded != c {
				t.Errorf("Response.Decoded = %q, want %q", resp.Decoded, c)
			}
			br := bufio.NewReader(resp.Body)
			ev, err := readEvent(br)
			if err != nil || ev != event(0) {
				t.Fatalf("first event %q, err %v (decoder waits for more input?)", ev, err)
			}
			close(proceed[c])
			for i := 1; i < 4; i++ {
				if ev, err := readEvent(br); err != nil || ev != event(i) {
					t.Fatalf("event %d: %q, err %v", i, ev, err)
				}
			}
			if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
				t.Fatalf("after last event: %q, err %v", rest, err)
			}
		})
	}
}

func (s *suite) testCompressionPassthrough(t *testing.T, kind string) {
	u, e := s.setup(t, kind, nil, compressedHandler)
	resp := do(t, e, testCtx(t), &engine.Request{Method: http.MethodPost, URL: u.URL + "/z?c=gzip", Body: []byte("{}"),
		Header: http.Header{"Accept-Encoding": {"gzip"}}})
	got := readBody(t, resp)
	if ae := resp.Header.Get("X-Seen-Accept-Encoding"); ae != "gzip" {
		t.Errorf("upstream saw Accept-Encoding %q, want the caller's gzip", ae)
	}
	if !bytes.Equal(got, compress("gzip", plainJSON)) {
		t.Errorf("passthrough body is not the raw gzip bytes (%d bytes)", len(got))
	}
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Decoded != "" {
		t.Errorf("Content-Encoding %q, Decoded %q; want gzip and empty", resp.Header.Get("Content-Encoding"), resp.Decoded)
	}
}

func (s *suite) testUnknownCoding(t *testing.T, kind string) {
	u, e := s.setup(t, kind, nil, func(_ *upstream, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "x-custom")
		_, _ = io.WriteString(w, "opaque")
	})
	resp := do(t, e, testCtx(t), &engine.Request{Method: http.MethodGet, URL: u.URL + "/u"})
	if got := string(readBody(t, resp)); got != "opaque" {
		t.Errorf("body %q, want the raw bytes", got)
	}
	if resp.Header.Get("Content-Encoding") != "x-custom" || resp.Decoded != "" {
		t.Errorf("Content-Encoding %q, Decoded %q; want x-custom kept", resp.Header.Get("Content-Encoding"), resp.Decoded)
	}
}

// testCodedEmptyBody: responses without a body (HEAD, 204, Content-Length
// 0) may still carry Content-Encoding; reading them must give an empty body
// and no error, not a "truncated gzip stream".
func (s *suite) testCodedEmptyBody(t *testing.T, kind string) {
	u, e := s.setup(t, kind, nil, func(_ *upstream, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		if r.URL.Path == "/204" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Length", "0")
	})
	for _, tc := range []struct{ method, path string }{{http.MethodHead, "/"}, {http.MethodGet, "/204"}, {http.MethodGet, "/empty"}} {
		resp := do(t, e, testCtx(t), &engine.Request{Method: tc.method, URL: u.URL + tc.path})
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(b) != 0 {
			t.Errorf("%s %s: body %q, err %v; want empty and no error", tc.method, tc.path, b, err)
		}
	}
}
