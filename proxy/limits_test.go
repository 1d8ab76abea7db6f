package proxy

import (
	"bufio"
	"context"
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

// TestUpstreamPoolExhausted: with every upstream connection busy, a
// request waits POOL_TIMEOUT for one and then gets 529 overloaded_error
// with Retry-After; it is not retried and does not count against the
// upstream's health.
func TestUpstreamPoolExhausted(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRig(t, eng, fakeupstream.Options{}, func(c *Config, ec *engine.Config) {
				ec.MaxConnsPerHost, ec.PoolTimeout = 1, 100*time.Millisecond
				c.BreakerThreshold = 1
			})
			r.Up.InjectFaults(fakeupstream.Fault{Kind: fakeupstream.Stall, AfterChunks: 1, Delay: 5 * time.Second})
			first := post(t, r.URL, "/v1/messages", []byte(streamBody), nil)
			defer first.Body.Close()
			if first.StatusCode != 200 {
				t.Fatalf("first request: status %d", first.StatusCode)
			}
			resp := post(t, r.URL, "/v1/messages", []byte(streamBody), nil)
			wantOverloaded(t, resp, 529)
			if got := r.Up.Stats().Requests; got != 1 {
				t.Fatalf("upstream saw %d requests, want 1 (no retry of a pool timeout)", got)
			}
			if s := r.H.breaker.State(); s != stateClosed {
				t.Fatalf("breaker %s after a pool timeout, want closed", s)
			}
		})
	}
}

// TestClientStopsReading: a client that stops reading a long stream is
// dropped after CLIENT_WRITE_TIMEOUT, and its upstream request is
// cancelled: the handler does not block forever on a full socket.
func TestClientStopsReading(t *testing.T) {
	for _, eng := range engines() {
		for _, route := range []struct{ name, path, body string }{
			{"stream", "/v1/messages", streamBody},
			{"unary passthrough", "/v1/chat/completions", `{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`},
			{"unary message", "/v1/messages", unaryBody}, // the upstream has answered: the handler must end
		} {
			t.Run(eng+"/"+route.name, func(t *testing.T) {
				r := newRig(t, eng, fakeupstream.Options{Chunks: 1000, ReplyBytes: 16 << 20, TextOnly: true},
					func(c *Config, _ *engine.Config) { c.DownstreamWriteTimeout = 200 * time.Millisecond })
				conn, err := net.Dial("tcp", strings.TrimPrefix(r.URL, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				// A tiny receive buffer fills at once.
				conn.(*net.TCPConn).SetReadBuffer(4096)
				req := "POST " + route.path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
					strconv.Itoa(len(route.body)) + "\r\n\r\n" + route.body
				if _, err := conn.Write([]byte(req)); err != nil {
					t.Fatal(err)
				}
				// Read the head, then stop reading.
				if line, err := bufio.NewReader(conn).ReadString('\n'); err != nil || !strings.Contains(line, "200") {
					t.Fatalf("status line %q, %v", line, err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				for r.Up.Stats().Canceled == 0 && (route.body != unaryBody || r.Metrics.Snapshot().Requests.InFlight > 0) {
					if ctx.Err() != nil {
						t.Fatalf("the upstream request was not cancelled, or the handler did not end: a stalled client holds its handler (upstream stats %+v)", r.Up.Stats())
					}
					time.Sleep(10 * time.Millisecond)
				}
			})
		}
	}
}

// TestH2CSilentUpstreamOutlivesWriteTimeout: over HTTP/2 a write deadline
// resets the stream when it passes, written to or not. A stream whose
// upstream is silent for longer than CLIENT_WRITE_TIMEOUT (between pings;
// passthrough sends none) must still get through.
func TestH2CSilentUpstreamOutlivesWriteTimeout(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{Chunks: 1, ChunkInterval: 400 * time.Millisecond, TextOnly: true},
		func(c *Config, _ *engine.Config) {
			c.DownstreamWriteTimeout = 150 * time.Millisecond
			c.PingInterval = time.Minute
		})
	url, client := h2cFront(t, r.H)
	for _, c := range []struct{ path, body, end string }{
		{"/v1/messages", streamBody, "event: message_stop"},
		{"/v1/chat/completions", `{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"hi"}]}`, "[DONE]"},
	} {
		req, _ := http.NewRequest(http.MethodPost, url+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 || err != nil || !strings.Contains(string(b), c.end) {
			t.Fatalf("%s over %s: %v, body %.300q", c.path, resp.Proto, err, b)
		}
	}
}
