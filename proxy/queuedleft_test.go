package proxy

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/engine"
)

// TestQueuedClientLeftNotSent: an HTTP/1.1 client that gives up while its
// request waits in a queue (for the body budget, or for a concurrency
// slot) has sent its request and closed the connection; net/http notices
// only once the body has been read. When the queue lets the request
// through it is read, seen to have lost its client, recorded as 499
// (client_gone in its log line) and not sent upstream, which would charge
// for a turn nobody reads. Before, it was sent whenever the send beat
// net/http's own watch for the client leaving, which starts once the body
// is read: in about half the rounds here (each whole-body case runs
// several, so that the old behaviour fails the test all but certainly; the
// check itself does not depend on timing). A client that asked "Expect:
// 100-continue" left before sending its body: the read stops short, and
// that is the client leaving too (it was recorded as a 400 bad request).
// The waits are on what the proxy did, never on time: the second request
// waits in the queue (a budget wait counted, or takeSlot on its stack),
// the client's FIN has reached the proxy (CLOSE_WAIT), both requests are
// recorded.
func TestQueuedClientLeftNotSent(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("needs /proc/net/tcp to see the client's close reach the proxy")
	}
	// How the second client sends its request before it leaves: all of it
	// (by length, or chunked), or only its head, as a client asking
	// "Expect: 100-continue" does until it is told to go on (it leaves
	// before that: its body never comes).
	sends := []struct {
		name   string
		rounds int
		head   string
		body   string
	}{
		{"content-length", 5, "Content-Length: " + strconv.Itoa(len(unaryBody)) + "\r\n", unaryBody},
		{"chunked", 2, "Transfer-Encoding: chunked\r\n", fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(unaryBody), unaryBody)},
		{"expect-continue", 2, "Expect: 100-continue\r\nContent-Length: " + strconv.Itoa(len(unaryBody)) + "\r\n", ""},
	}
	for _, tc := range []struct {
		name   string
		mod    func(*Config)
		queued func(*rig) bool // the second request waits in the queue
	}{
		{"body budget", func(c *Config) { c.MaxBufferedBytes = 2 * bodyWeight(int64(len(unaryBody))) },
			func(r *rig) bool { return r.Metrics.Snapshot().Requests.BufferWaits == 1 }},
		{"concurrency limit", func(c *Config) { c.MaxConcurrent = 1 },
			func(*rig) bool { return strings.Contains(goroutines(), "(*Handler).takeSlot") }},
	} {
		for _, send := range sends {
			for round := range send.rounds {
				t.Run(fmt.Sprintf("%s/%s/%d", tc.name, send.name, round), func(t *testing.T) {
					up := newGatedUpstream(t)
					r := newRigFor(t, "nethttp", up.url, func(c *Config, _ *engine.Config) {
						tc.mod(c)
						c.QueueTimeout = time.Minute
					}, nil)
					firstc := make(chan error, 1)
					go func() {
						resp := post(t, r.URL, "/v1/messages", []byte(unaryBody), nil)
						_, err := io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if err == nil && resp.StatusCode != 200 {
							err = fmt.Errorf("status %d", resp.StatusCode)
						}
						firstc <- err
					}()
					eventually(t, func() bool { return up.seen.Load() == 1 }, func() string { return "the first request never reached the upstream" })

					// The second client sends its request, then leaves.
					u, _ := url.Parse(r.URL)
					c, err := net.Dial("tcp", u.Host)
					if err != nil {
						t.Fatal(err)
					}
					fmt.Fprintf(c, "POST /v1/messages HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nanthropic-version: 2023-06-01\r\n%s\r\n%s",
						u.Host, send.head, send.body)
					eventually(t, func() bool { return tc.queued(r) }, func() string { return "the second request never queued" })
					client := c.LocalAddr().String()
					c.Close()
					eventually(t, func() bool { return closeWait(t, u.Host, client) },
						func() string { return "the proxy's side of the connection never saw the client's close" })

					// The first request ends; the queue lets the second through.
					up.open(up.headGate)
					up.open(up.endGate)
					if err := <-firstc; err != nil {
						t.Fatalf("first request: %v", err)
					}
					// Both recorded (in flight is no sign: a request that waited
					// for a slot is counted in flight only once it has one).
					eventually(t, func() bool { return r.Metrics.Snapshot().Requests.Total == 2 },
						func() string { return "the queued request never ended" })
					if n := up.seen.Load(); n != 1 {
						t.Fatalf("the upstream got %d requests: the one whose client left while queued was sent", n)
					}
					if s := r.Metrics.Snapshot().Requests.ByStatus; s["499"] != 1 || s["200"] != 1 {
						t.Fatalf("statuses %v, want one 200 and one 499 (client gone)", s)
					}
					if !strings.Contains(r.logs(), `"client_gone":true`) {
						t.Fatalf("no client_gone in the log: %s", r.logs())
					}
					if r.H.budget.sem != nil && !budgetFree(r.H) {
						t.Fatal("the budget was not given back")
					}
				})
			}
		}
	}
}

// closeWait reports whether the server side (at server) of the TCP
// connection from client has received the client's FIN (CLOSE_WAIT in
// /proc/net/tcp), both on 127.0.0.1.
func closeWait(t *testing.T, server, client string) bool {
	t.Helper()
	port := func(addr string) string {
		_, p, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(p)
		return fmt.Sprintf("%04X", n)
	}
	sp, cp := port(server), port(client)
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		if strings.HasSuffix(f[1], ":"+sp) && strings.HasSuffix(f[2], ":"+cp) && f[3] == "08" {
			return true
		}
	}
	return false
}
