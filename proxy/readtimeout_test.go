package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
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
	// The timeout leaves each gap half of it to spare: a loaded machine
	// delays a part by tens of milliseconds (150 ms against 100 ms gaps
	// was not enough), and a late part is a 408.
	const timeout = 500 * time.Millisecond
	r := newRig(t, "nethttp", fakeupstream.Options{Chunks: 12, ChunkInterval: 100 * time.Millisecond, TextOnly: true},
		func(c *Config, _ *engine.Config) {
			c.ClientReadTimeout = timeout
			c.PingInterval = time.Minute
		})
	for _, c := range frontEnds(t, r) {
		t.Run(c.name, func(t *testing.T) {
			// The body arrives in four parts 250 ms apart: 750 ms in all,
			// longer than the timeout, never a gap of it; the stream
			// then lasts 1.2 s, more than the 750 ms a deadline left
			// set after the body could run.
			gap := timeout / 2
			resp := postPaced(t, c.client, c.url, []string{streamBody[:20], streamBody[20:40], streamBody[40:60], streamBody[60:]},
				[]time.Duration{gap, gap, gap})
			defer resp.Body.Close()
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

// TestClientStallsMidBodyH2CChunkedExpect: the stalled-body 408 also
// holds over h2c (the stream's read deadline), for a chunked HTTP/1.1
// body, and for a body sent after "Expect: 100-continue".
func TestClientStallsMidBodyH2CChunkedExpect(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, func(c *Config, _ *engine.Config) {
		c.ClientReadTimeout = 150 * time.Millisecond
	})
	part := `{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"` + strings.Repeat("x", 2000)

	t.Run("h2c", func(t *testing.T) {
		url, client := h2cFront(t, r.H)
		pr, pw := io.Pipe()
		defer pw.Close()
		go pw.Write([]byte(part)) // and then nothing
		req, _ := http.NewRequest(http.MethodPost, url+"/v1/messages", pr)
		req.ContentLength = int64(len(part) + 100)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("no answer to a stalled h2c body: %v", err)
		}
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("status %d, want 408", resp.StatusCode)
		}
		if typ, msg := errorBody(t, resp); typ != errInvalidRequest || !strings.Contains(msg, "CLIENT_READ_TIMEOUT") {
			t.Fatalf("error %s %q", typ, msg)
		}
	})

	raw := func(t *testing.T, head string, afterHead func(*bufio.Reader, net.Conn)) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(r.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.WriteString(conn, head); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		afterHead(br, conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("no answer to a stalled body: %v", err)
		}
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("status %d, want 408", resp.StatusCode)
		}
		if typ, msg := errorBody(t, resp); typ != errInvalidRequest || !strings.Contains(msg, "CLIENT_READ_TIMEOUT") {
			t.Fatalf("error %s %q", typ, msg)
		}
	}
	t.Run("chunked", func(t *testing.T) {
		raw(t, "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"+
			strconv.FormatInt(int64(len(part)), 16)+"\r\n"+part+"\r\n", func(*bufio.Reader, net.Conn) {})
	})
	t.Run("expect-continue", func(t *testing.T) {
		raw(t, "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: "+
			strconv.Itoa(len(part)+100)+"\r\n\r\n", func(br *bufio.Reader, conn net.Conn) {
			line, err := br.ReadString('\n')
			if err != nil || !strings.Contains(line, "100") {
				t.Fatalf("want 100 Continue, got %q %v", line, err)
			}
			for line != "\r\n" {
				if line, err = br.ReadString('\n'); err != nil {
					t.Fatal(err)
				}
			}
			io.WriteString(conn, part)
		})
	})
	eventually(t, func() bool { return r.Metrics.Snapshot().Requests.BufferedBytes == 0 },
		func() string { return "body budget still held" })
}

// TestClientGoneAfterTimedBodyRead: once a body has been read under
// CLIENT_READ_TIMEOUT, a client leaving a stream that has outlived the
// timeout is still noticed, over HTTP/1.1 and h2c: the upstream request
// is cancelled and the request is recorded as 499.
func TestClientGoneAfterTimedBodyRead(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{ChunkInterval: 20 * time.Millisecond, Chunks: 500, TextOnly: true},
		func(c *Config, _ *engine.Config) {
			// Not shorter: the body, sent at once, may still take tens of
			// milliseconds to reach the handler on a loaded machine.
			c.ClientReadTimeout = 250 * time.Millisecond
			c.PingInterval = time.Minute
		})
	for i, c := range frontEnds(t, r) {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/v1/messages", strings.NewReader(streamBody))
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			// Read for several timeouts' worth (20 ms a chunk).
			br := bufio.NewReader(resp.Body)
			for n := 0; n < 60; {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("stream ended early: %v", err)
				}
				if strings.HasPrefix(line, "event: content_block_delta") {
					n++
				}
			}
			cancel()
			eventually(t, func() bool { return r.Up.Stats().Canceled == int64(i+1) },
				func() string { return "the upstream never saw the cancel" })
			eventually(t, func() bool { return r.Metrics.Snapshot().Requests.ByStatus["499"] == int64(i+1) },
				func() string { return "no 499 recorded" })
		})
	}
}

// TestReadTimeoutNotChargedForBudgetWait: a chunked body that outgrows its
// buffer may wait for the body budget; that wait is ccproxy's, not the
// client's, and must not end in a 408 "the request body stopped
// arriving" once the budget frees, however long it took.
func TestReadTimeoutNotChargedForBudgetWait(t *testing.T) {
	turn := func(n int) string {
		return `{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"` +
			strings.Repeat("x", n) + `"}]}`
	}
	for _, proto := range []string{"HTTP/1.1", "h2c"} {
		t.Run(proto, func(t *testing.T) {
			up := newGatedUpstream(t)
			r := newRigFor(t, "nethttp", up.url, func(c *Config, _ *engine.Config) {
				c.MaxBufferedBytes = 1 << 20
				c.QueueTimeout = 20 * time.Second
				// The 1.2 MB body must arrive with no gap of the timeout
				// before it waits: with 100 ms a loaded machine made one
				// (over h2c, 408 in about 1 of 25 runs).
				c.ClientReadTimeout = 500 * time.Millisecond
			}, nil)
			t.Cleanup(func() { up.open(up.headGate); up.open(up.endGate) }) // before the proxy's server closes
			url, client := r.URL, &http.Client{Timeout: 20 * time.Second}
			if proto == "h2c" {
				url, client = h2cFront(t, r.H)
			}
			// The first request holds its 600 KB translation until the
			// upstream's head.
			firstc := make(chan *http.Response, 1)
			go func() {
				resp := post(t, r.URL, "/v1/messages", []byte(turn(600<<10)), nil)
				firstc <- resp
			}()
			eventually(t, func() bool { return up.seen.Load() == 1 }, func() string { return "first request not upstream" })
			waits := r.Metrics.Snapshot().Requests.BufferWaits

			// The second, chunked and larger than the whole budget (and
			// than any pooled buffer), grows past what the budget has left.
			secondc := make(chan *http.Response, 1)
			go func() {
				req, _ := http.NewRequest(http.MethodPost, url+"/v1/messages", io.NopCloser(strings.NewReader(turn(1200<<10))))
				req.ContentLength = -1
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
				}
				secondc <- resp
			}()
			eventually(t, func() bool { return r.Metrics.Snapshot().Requests.BufferWaits > waits },
				func() string {
					s := r.Metrics.Snapshot().Requests
					msg := fmt.Sprintf("second request never waited for the budget (statuses %v, buffered %d)", s.ByStatus, s.BufferedBytes)
					select {
					case resp := <-secondc:
						if resp != nil {
							b, _ := io.ReadAll(resp.Body)
							resp.Body.Close()
							msg += fmt.Sprintf(": it was answered %d %.300s", resp.StatusCode, b)
						}
					default:
					}
					return msg
				})
			time.Sleep(time.Second) // two read timeouts go by while it waits (a deadline set before the wait is at most 1.5 of one ahead)
			up.open(up.headGate)
			up.open(up.endGate)
			wantMessageStop(t, <-firstc, "first")
			wantMessageStop(t, <-secondc, "second")
		})
	}
}

// TestReadTimeoutAllowsEveryWaitUpToIt: any pause in a body shorter than
// CLIENT_READ_TIMEOUT is allowed, wherever it falls, not only those after
// half the timeout went by without data.
func TestReadTimeoutAllowsEveryWaitUpToIt(t *testing.T) {
	const timeout = time.Second
	r := newRig(t, "nethttp", fakeupstream.Options{}, func(c *Config, _ *engine.Config) {
		c.ClientReadTimeout = timeout
	})
	for _, c := range frontEnds(t, r) {
		t.Run(c.name, func(t *testing.T) {
			// Parts at 0, 0.4 and 1.1 timeouts: the longest pause is 0.7 of it.
			resp := postPaced(t, c.client, c.url, []string{streamBody[:20], streamBody[20:40], streamBody[40:]},
				[]time.Duration{timeout * 4 / 10, timeout * 7 / 10})
			defer resp.Body.Close()
			io.Copy(io.Discard, resp.Body)
		})
	}
}

// postPaced posts streamBody's parts to url's /v1/messages, waiting
// gaps[i] before part i+1, and returns the answer, which must be a 200.
func postPaced(t *testing.T, client *http.Client, url string, parts []string, gaps []time.Duration) *http.Response {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		for i, p := range parts {
			if i > 0 {
				time.Sleep(gaps[i-1])
			}
			pw.Write([]byte(p))
		}
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/messages", pr)
	req.ContentLength = int64(len(streamBody))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("a body paced %v: status %d: %s", gaps, resp.StatusCode, b)
	}
	return resp
}
