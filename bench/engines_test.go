// Package bench_test compares every registered engine side by side against
// the fake upstream over loopback, so one `benchstat -col /engine` shows
// them in columns:
//
//	go test -run '^$' -bench Engines -benchmem -count 6 ./bench > new.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /engine new.txt
//
// The end-to-end numbers (through ccproxy, with CPU per request of the
// proxy process) come from `make bench` (bench/cmd/ccbench).
package bench_test

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"testing"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/engine"
	_ "github.com/ccproxy/ccproxy/engine/fasthttp"
	_ "github.com/ccproxy/ccproxy/engine/nethttp"
)

var (
	unaryBody  = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello in five words."}],"max_tokens":32}`)
	streamBody = []byte(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello in five words."}],"max_tokens":32}`)
)

// BenchmarkEngines/engine=<name>/<kind>/<par> sends a small chat request
// (unary JSON, or a 20-chunk SSE stream read to the end) through each
// registered engine to an HTTP/1.1 fake upstream, serially (par=1) and
// with 16 requests in flight (par=16). The upstream runs in the same
// process, so B/op and allocs/op include its share; compare engines with
// each other, not with the engine packages' own benchmarks.
func BenchmarkEngines(b *testing.B) {
	up, err := fakeupstream.Start(fakeupstream.Options{Protocol: fakeupstream.H1})
	if err != nil {
		b.Fatal(err)
	}
	defer up.Close()
	for _, name := range engine.Names() {
		cfg := engine.NewConfig()
		cfg.HTTP2 = false // both engines on HTTP/1.1: a like-for-like comparison
		e, err := engine.New(name, cfg)
		if err != nil {
			b.Fatal(err)
		}
		for _, kind := range []struct {
			name string
			body []byte
		}{{"unary", unaryBody}, {"stream", streamBody}} {
			req := &engine.Request{Method: http.MethodPost, URL: up.URL + "/v1/chat/completions",
				Header: http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer bench"}}, Body: kind.body}
			b.Run("engine="+name+"/"+kind.name+"/par=1", func(b *testing.B) {
				buf := make([]byte, 16<<10)
				b.ReportAllocs()
				for b.Loop() {
					do(b, e, req, buf)
				}
			})
			b.Run("engine="+name+"/"+kind.name+"/par=16", func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(max(16/testingProcs(), 1))
				b.RunParallel(func(pb *testing.PB) {
					buf := make([]byte, 16<<10)
					for pb.Next() {
						do(b, e, req, buf)
					}
				})
			})
		}
		_ = e.Close()
	}
}

// testingProcs is GOMAXPROCS: RunParallel multiplies SetParallelism by it.
func testingProcs() int { return runtime.GOMAXPROCS(0) }

func do(b *testing.B, e engine.Engine, req *engine.Request, buf []byte) {
	resp, err := e.Do(context.Background(), req)
	if err != nil {
		b.Error(err)
		return
	}
	defer resp.Body.Close()
	n := 0
	for {
		m, err := resp.Body.Read(buf)
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Error(err)
			return
		}
	}
	if resp.StatusCode != http.StatusOK || n == 0 {
		b.Errorf("status %d, %d body bytes", resp.StatusCode, n)
	}
}
