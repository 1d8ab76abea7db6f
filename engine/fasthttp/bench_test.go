package fasthttp

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	fh "github.com/valyala/fasthttp"

	"github.com/ccproxy/ccproxy/engine"
)

func parsedHeader(tb testing.TB) *fh.ResponseHeader {
	var h fh.ResponseHeader
	if err := h.Read(bufio.NewReader(strings.NewReader(unaryResponse))); err != nil {
		tb.Fatal(err)
	}
	return &h
}

// benchUpstream is a minimal keep-alive HTTP/1.1 server on 127.0.0.1 that
// answers every request with resp, allocating nothing per request, so the
// benchmarks measure the client.
func benchUpstream(tb testing.TB, resp string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReaderSize(c, 64<<10)
				out := []byte(resp)
				for {
					cl := 0
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
						if len(line) > 16 && strings.EqualFold(string(line[:16]), "content-length: ") {
							cl, _ = strconv.Atoi(strings.TrimSpace(string(line[16:])))
						}
					}
					if _, err := br.Discard(cl); err != nil {
						return
					}
					if _, err := c.Write(out); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/v1/chat/completions"
}

const unaryResponse = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 01 Dec 2026 00:00:00 GMT\r\nX-Request-Id: req_123\r\nContent-Length: 27\r\n\r\n{\"id\":\"x\",\"choices\":[1,2]}\n"

func sseResponse() string {
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
	ev := "data: {\"choices\":[{\"delta\":{\"content\":\"hello\"}}]}\n\n"
	for range 20 {
		b.WriteString(strconv.FormatInt(int64(len(ev)), 16) + "\r\n" + ev + "\r\n")
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

func benchRequest(url string) *engine.Request {
	return &engine.Request{
		Method: http.MethodPost,
		URL:    url,
		Header: http.Header{
			"Content-Type":  {"application/json"},
			"Authorization": {"Bearer sk-test"},
			"Accept":        {"text/event-stream"},
		},
		Body: []byte(strings.Repeat("x", 2048)),
	}
}

func doDrain(tb testing.TB, e *Engine, req *engine.Request, buf []byte) {
	resp, err := e.Do(context.Background(), req)
	if err != nil {
		tb.Fatal(err)
	}
	for {
		_, err := resp.Body.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	resp.Body.Close()
}

func benchEngine(b *testing.B, resp string) {
	url := benchUpstream(b, resp)
	e, err := New(engine.NewConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := benchRequest(url)
		buf := make([]byte, 32<<10)
		for pb.Next() {
			doDrain(b, e, req, buf)
		}
	})
}

func BenchmarkUnary(b *testing.B)  { benchEngine(b, unaryResponse) }
func BenchmarkStream(b *testing.B) { benchEngine(b, sseResponse()) }

func BenchmarkResponseHeader(b *testing.B) {
	b.ReportAllocs()
	h := parsedHeader(b)
	for b.Loop() {
		_ = responseHeader(h, false)
	}
}
