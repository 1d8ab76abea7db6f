package nethttp

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/ccproxy/ccproxy/engine"
)

var (
	benchReq  = bytes.Repeat([]byte(`{"role":"user","content":"hello"},`), 60)                 // ~2 KB
	benchResp = bytes.Repeat([]byte(`{"index":0,"delta":{"content":"word"}},`), 26)            // ~1 KB
	benchSSE  = []byte(`data: {"choices":[{"index":0,"delta":{"content":"token"}}]}` + "\n\n") // one chunk
)

const benchEvents = 20

// benchUpstream serves /unary and /stream over HTTP/1.1 (h2c=false) or
// cleartext HTTP/2 with prior knowledge (h2c=true).
func benchUpstream(b *testing.B, h2c bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(h2c)
	srv := &http.Server{Protocols: &p, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/stream" {
			w.Header().Set("Content-Type", "text/event-stream")
			f := w.(http.Flusher)
			for range benchEvents {
				_, _ = w.Write(benchSSE)
				f.Flush()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(benchResp)
	})}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func benchEngine(b *testing.B, h2c bool) *Engine {
	cfg := engine.NewConfig()
	cfg.H2C = h2c
	e, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close() })
	return e
}

func roundTrip(e *Engine, req *engine.Request, buf []byte) error {
	resp, err := e.Do(context.Background(), req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	for {
		_, err := resp.Body.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func benchDo(b *testing.B, h2c bool, path string, parallel bool) {
	url := benchUpstream(b, h2c)
	e := benchEngine(b, h2c)
	hdr := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer sk-bench"}}
	req := &engine.Request{Method: http.MethodPost, URL: url + path, Header: hdr, Body: benchReq}
	if err := roundTrip(e, req, make([]byte, 32<<10)); err != nil { // warm the pool
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchReq)))
	b.ResetTimer()
	if !parallel {
		buf := make([]byte, 32<<10)
		for b.Loop() {
			if err := roundTrip(e, req, buf); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 32<<10)
		for pb.Next() {
			if err := roundTrip(e, req, buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkUnaryH1(b *testing.B)          { benchDo(b, false, "/unary", false) }
func BenchmarkUnaryH2C(b *testing.B)         { benchDo(b, true, "/unary", false) }
func BenchmarkUnaryH1Parallel(b *testing.B)  { benchDo(b, false, "/unary", true) }
func BenchmarkUnaryH2CParallel(b *testing.B) { benchDo(b, true, "/unary", true) }
func BenchmarkStreamH1(b *testing.B)         { benchDo(b, false, "/stream", false) }
func BenchmarkStreamH2C(b *testing.B)        { benchDo(b, true, "/stream", false) }

// BenchmarkUnaryH1Raw runs against an upstream that allocates nothing, so
// B/op and allocs/op are the engine's (and net/http's) own.
func BenchmarkUnaryH1Raw(b *testing.B) {
	url := rawUpstream(b, benchResp)
	e := benchEngine(b, false)
	hdr := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer sk-bench"}}
	req := &engine.Request{Method: http.MethodPost, URL: url + "/unary", Header: hdr, Body: benchReq}
	buf := make([]byte, 32<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchReq)))
	for b.Loop() {
		if err := roundTrip(e, req, buf); err != nil {
			b.Fatal(err)
		}
	}
}
