package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccproxy/ccproxy/engine"
)

// rawUpstream serves HTTP/1.1 keep-alive connections on 127.0.0.1 and
// hands each request, its body read, to answer, which writes the raw
// response bytes to c; false ends the connection. It returns the base URL.
func rawUpstream(t *testing.T, answer func(c net.Conn) bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if !answer(c) {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return "http://" + ln.Addr().String()
}

// oneWriteUpstream answers every request with a complete chunked OpenAI
// stream written at once (head, every event, [DONE] and the last chunk), as
// a fast upstream's last packet arrives.
func oneWriteUpstream(t *testing.T) string {
	t.Helper()
	var body strings.Builder
	for _, ev := range []string{
		`{"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`,
		`{"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"Hello"}}]}`,
		`{"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
		`{"id":"c1","object":"chat.completion.chunk","model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`,
		`[DONE]`,
	} {
		data := "data: " + ev + "\n\n"
		fmt.Fprintf(&body, "%x\r\n%s\r\n", len(data), data)
	}
	resp := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" + body.String() + "0\r\n\r\n"
	return rawUpstream(t, func(c net.Conn) bool {
		_, err := io.WriteString(c, resp)
		return err == nil
	})
}

// writeLog is a listener whose connections record each Write.
type writeLog struct {
	net.Listener
	mu     sync.Mutex
	writes [][]byte
}

func (l *writeLog) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &loggedConn{Conn: c, l: l}, nil
}

func (l *writeLog) all() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.writes...)
}

type loggedConn struct {
	net.Conn
	l *writeLog
}

func (c *loggedConn) Write(p []byte) (int, error) {
	c.l.mu.Lock()
	c.l.writes = append(c.l.writes, bytes.Clone(p))
	c.l.mu.Unlock()
	return c.Conn.Write(p)
}

// quietLog leaves the per-request log line out (warn level and above).
func quietLog(c *Config, _ *engine.Config) {
	c.Logger = zerolog.New(io.Discard).Level(zerolog.WarnLevel)
}

// TestLastEventsLeaveWithTheEnd: when the upstream's body ends together
// with its last events (and no request log line is written on the way
// out), message_stop and the response's chunked terminator leave in the
// same write (one system call and one wake-up of the client fewer per
// stream), and the stream is still whole.
func TestLastEventsLeaveWithTheEnd(t *testing.T) {
	up := oneWriteUpstream(t)
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			wl := &writeLog{Listener: inner}
			r := newRigFor(t, eng, up, quietLog, wl)
			for i := 0; i < 3; i++ {
				resp := post(t, r.URL, "/v1/messages", []byte(streamBody), nil)
				evs := readEvents(t, resp.Body)
				resp.Body.Close()
				checkGrammar(t, evs)
			}
			// The passthrough route: the stream's last read ends its response too.
			resp := post(t, r.URL, "/v1/chat/completions", []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`), nil)
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !bytes.HasSuffix(b, []byte("data: [DONE]\n\n")) {
				t.Fatalf("passthrough stream: %q, %v", b, err)
			}
			// The write with message_stop ends its response: with the
			// chunked terminator, or (nothing was flushed before) as a
			// whole response with a Content-Length; what follows is the
			// next response.
			stops := 0
			ws := wl.all()
			for i, w := range ws {
				if !bytes.Contains(w, []byte("event: message_stop")) && !bytes.Contains(w, []byte("data: [DONE]")) {
					continue
				}
				stops++
				whole := bytes.HasPrefix(w, []byte("HTTP/1.1 200")) && bytes.Contains(w, []byte("\r\nContent-Length: "))
				if !bytes.HasSuffix(w, []byte("0\r\n\r\n")) && !whole {
					t.Errorf("message_stop left without the response's end: %q", w)
				}
				if i+1 < len(ws) && !bytes.HasPrefix(ws[i+1], []byte("HTTP/1.1 ")) {
					t.Errorf("a write after message_stop: %q", ws[i+1])
				}
			}
			if stops != 4 {
				t.Fatalf("saw the end of a stream in %d writes, want 4", stops)
			}
		})
	}
}

// gateLog blocks the per-request log line (the one with "status") until
// release is closed.
type gateLog struct{ release chan struct{} }

func (g *gateLog) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(`"status":`)) {
		<-g.release
	}
	return len(p), nil
}

// TestLastEventsNotHeldByTheRequestLog: with the request log on, a
// stream's last events are flushed before the handler writes its log line:
// a slow or stalled log sink must not hold back the end of a stream (found
// by review: they waited, unflushed, for the log write).
func TestLastEventsNotHeldByTheRequestLog(t *testing.T) {
	up := oneWriteUpstream(t)
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			g := &gateLog{release: make(chan struct{})}
			r := newRigFor(t, eng, up, func(c *Config, _ *engine.Config) { c.Logger = zerolog.New(g) }, nil)
			// Registered after the rig's: runs first, so the blocked
			// handlers can finish before the server waits for them.
			t.Cleanup(func() { close(g.release) })
			for _, c := range []struct{ path, body, end string }{
				{"/v1/messages", streamBody, "event: message_stop"},
				{"/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`, "data: [DONE]"},
			} {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL+c.path, strings.NewReader(c.body))
				if err != nil {
					t.Fatal(err)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				br := bufio.NewReader(resp.Body)
				for {
					line, err := br.ReadString('\n')
					if strings.HasPrefix(line, c.end) {
						break
					}
					if err != nil {
						t.Fatalf("%s: the stream's end did not arrive while the request log was blocked: %v", c.path, err)
					}
				}
				cancel()
				resp.Body.Close()
			}
		})
	}
}

// TestPassthroughDataWithErrorReachesClient: a passthrough read that
// returns data together with a failure (a good chunk, then a malformed one,
// in one packet) still delivers that data before the stream is cut (found
// by review: it was written unflushed and lost when the handler aborted).
func TestPassthroughDataWithErrorReachesClient(t *testing.T) {
	up := rawUpstream(t, func(c net.Conn) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"+
			"b\r\ndata: one\n\n\r\n")
		time.Sleep(50 * time.Millisecond)
		io.WriteString(c, "b\r\ndata: two\n\n\r\n5x\r\nhello\r\n")
		time.Sleep(50 * time.Millisecond)
		return false
	})
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRigFor(t, eng, up, quietLog, nil)
			resp := post(t, r.URL, "/v1/chat/completions", []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`), nil)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Contains(b, []byte("data: two")) {
				t.Fatalf("client got %q: the data read with the failure never arrived", b)
			}
		})
	}
}
