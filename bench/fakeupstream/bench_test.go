package fakeupstream

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/ccproxy/ccproxy/internal/jsonw"
)

// claudeCodeBody turns the recorded Claude Code first turn into the
// OpenAI request a proxy would send: its system prompt, its last user
// message and its 12 tools (about 50 KB).
func claudeCodeBody(tb testing.TB, stream bool) []byte {
	tb.Helper()
	raw, err := os.ReadFile("../../testdata/cc-2.1.332-print-first-turn.json")
	if err != nil {
		tb.Fatal(err)
	}
	j := gjson.ParseBytes(raw)
	var b bytes.Buffer
	b.WriteString(`{"model":"gpt-4o","max_completion_tokens":32000`)
	if stream {
		b.WriteString(`,"stream":true,"stream_options":{"include_usage":true}`)
	}
	b.WriteString(`,"messages":[{"role":"system","content":`)
	var sys strings.Builder
	j.Get("system.#.text").ForEach(func(_, v gjson.Result) bool { sys.WriteString(v.Str); return true })
	b.Write(jsonw.AppendString(nil, sys.String()))
	b.WriteString(`}`)
	j.Get("messages").ForEach(func(_, m gjson.Result) bool {
		if m.Get("role").Str != "user" {
			return true
		}
		b.WriteString(`,{"role":"user","content":[`)
		first := true
		m.Get("content").ForEach(func(_, p gjson.Result) bool {
			if p.Get("type").Str == "text" {
				if !first {
					b.WriteByte(',')
				}
				first = false
				b.WriteString(`{"type":"text","text":`)
				b.WriteString(p.Get("text").Raw)
				b.WriteString(`}`)
			}
			return true
		})
		b.WriteString(`]}`)
		return true
	})
	b.WriteString(`],"tools":[`)
	first := true
	j.Get("tools").ForEach(func(_, tool gjson.Result) bool {
		if !tool.Get("input_schema").Exists() {
			return true
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(`{"type":"function","function":{"name":`)
		b.WriteString(tool.Get("name").Raw)
		b.WriteString(`,"description":`)
		b.WriteString(tool.Get("description").Raw)
		b.WriteString(`,"parameters":`)
		b.WriteString(tool.Get("input_schema").Raw)
		b.WriteString(`}}`)
		return true
	})
	b.WriteString(`]}`)
	if !gjson.ValidBytes(b.Bytes()) {
		tb.Fatal("built an invalid body")
	}
	return b.Bytes()
}

// sinkWriter is a reusable ResponseWriter that discards the body.
type sinkWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *sinkWriter) Header() http.Header         { return w.h }
func (w *sinkWriter) WriteHeader(code int)        { w.status = code }
func (w *sinkWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *sinkWriter) Flush()                      {}

// handlerRig serves one request body over and over through Handler().
type handlerRig struct {
	h    http.Handler
	w    *sinkWriter
	r    *http.Request
	body *bytes.Reader
	raw  []byte
}

func newRig(tb testing.TB, s *Server, body []byte, hdr ...string) *handlerRig {
	rg := &handlerRig{h: s.Handler(), w: &sinkWriter{h: make(http.Header)}, raw: body, body: bytes.NewReader(body)}
	r, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "/v1/chat/completions", nil)
	if err != nil {
		tb.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer sk-bench")
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	r.Body = io.NopCloser(rg.body)
	r.ContentLength = int64(len(body))
	r.Proto = "HTTP/1.1"
	rg.r = r
	return rg
}

func (rg *handlerRig) serve() {
	rg.body.Reset(rg.raw)
	clear(rg.w.h)
	rg.w.status, rg.w.n = 0, 0
	rg.h.ServeHTTP(rg.w, rg.r)
}

func BenchmarkHandler(b *testing.B) {
	s, _ := start(b, Options{})
	cases := []struct {
		name   string
		body   []byte
		header []string
	}{
		{"stream-text", claudeCodeBody(b, true), nil},
		{"unary-text", claudeCodeBody(b, false), nil},
		{"stream-tool", []byte(chatBody(true, true, `,"tools":[{"type":"function","function":{"name":"Bash"}}]`)), nil},
		{"stream-gzip", claudeCodeBody(b, true), []string{"Accept-Encoding", "gzip"}},
		{"stream-zstd", claudeCodeBody(b, true), []string{"Accept-Encoding", "zstd"}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			s.SetOptions(func(o *Options) { o.Compression = "" })
			if tc.header != nil {
				s.SetOptions(func(o *Options) { o.Compression = "auto" })
			}
			rg := newRig(b, s, tc.body, tc.header...)
			rg.serve()
			if rg.w.status != 200 {
				b.Fatalf("status %d", rg.w.status)
			}
			b.SetBytes(int64(len(tc.body)))
			b.ReportAllocs()
			for b.Loop() {
				rg.serve()
			}
		})
	}
}

// BenchmarkServer measures a whole streamed turn over loopback with a
// net/http client, client cost included.
func BenchmarkServer(b *testing.B) {
	body := claudeCodeBody(b, true)
	for _, p := range []Protocol{H1, H2C} {
		b.Run(string(p), func(b *testing.B) {
			s, c := start(b, Options{Protocol: p})
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/chat/completions", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer k")
					resp, err := c.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}
