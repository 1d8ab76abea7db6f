package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/engine"
)

// TestClientStallsMidBody: a client that sends part of its body and then
// nothing gets 408 after CLIENT_READ_TIMEOUT, on every route that reads a
// body, and the body budget it held is given back; the upstream never
// sees the request.
func TestClientStallsMidBody(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, func(c *Config, _ *engine.Config) {
		c.ClientReadTimeout = 150 * time.Millisecond
	})
	for _, path := range []string{"/v1/messages", "/v1/messages/count_tokens", "/v1/chat/completions"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(r.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		body := `{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"` + strings.Repeat("x", 2000)
		req := "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
			strconv.Itoa(len(body)+100) + "\r\n\r\n" + body
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: no answer to a stalled body: %v", path, err)
		}
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("%s: status %d, want 408", path, resp.StatusCode)
		}
		if typ, msg := errorBody(t, resp); typ != errInvalidRequest || !strings.Contains(msg, "CLIENT_READ_TIMEOUT") {
			t.Fatalf("%s: error %s %q", path, typ, msg)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for r.Metrics.Snapshot().Requests.BufferedBytes != 0 {
		if ctx.Err() != nil {
			t.Fatalf("body budget still held: %d bytes", r.Metrics.Snapshot().Requests.BufferedBytes)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := r.Up.Stats().Requests; n != 0 {
		t.Fatalf("the upstream saw %d requests", n)
	}
}

// TestSlowBodyAndLongStreamOutliveReadTimeout: a body that keeps arriving,
// however slowly, is not cut by CLIENT_READ_TIMEOUT (it bounds each wait,
// not the whole body), and once the body is read the deadline no longer
// applies: a stream that lasts several times the timeout ends normally,
// over HTTP/1.1 and h2c.
func TestSlowBodyAndLongStreamOutliveReadTimeout(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{Chunks: 6, ChunkInterval: 100 * time.Millisecond, TextOnly: true},
		func(c *Config, _ *engine.Config) {
			c.ClientReadTimeout = 150 * time.Millisecond
			c.PingInterval = time.Minute
		})
	h2cURL, h2cClient := h2cFront(t, r.H)

	for _, c := range []struct {
		name, url string
		client    *http.Client
	}{
		{"HTTP/1.1", r.URL, &http.Client{Timeout: 20 * time.Second}},
		{"h2c", h2cURL, h2cClient},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The body arrives in four parts 100 ms apart: 300 ms in all,
			// twice the timeout, never a 150 ms gap.
			pr, pw := io.Pipe()
			go func() {
				parts := []string{streamBody[:20], streamBody[20:40], streamBody[40:60], streamBody[60:]}
				for i, p := range parts {
					if i > 0 {
						time.Sleep(100 * time.Millisecond)
					}
					pw.Write([]byte(p))
				}
				pw.Close()
			}()
			req, _ := http.NewRequest(http.MethodPost, c.url+"/v1/messages", pr)
			req.ContentLength = int64(len(streamBody))
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			evs := readEvents(t, resp.Body)
			checkGrammar(t, evs)
			for _, ev := range evs {
				if ev.Name == "error" {
					var e map[string]any
					json.Unmarshal([]byte(ev.Data), &e)
					t.Fatalf("stream ended with an error: %v", e)
				}
			}
		})
	}
}
