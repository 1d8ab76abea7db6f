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
// slot) has sent its whole request and closed the connection; net/http
// notices only once the body has been read. When the queue lets the
// request through it is read, seen to have lost its client, recorded as
// 499 and not sent upstream, which would charge for a turn nobody reads.
// Before, it was sent whenever the send beat net/http's own watch for the
// client leaving, which starts once the body is read: in about half the
// rounds here (each case runs five, so that the old behaviour fails the
// test all but certainly; the check itself does not depend on timing).
func TestQueuedClientLeftNotSent(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("needs /proc/net/tcp to see the client's close reach the proxy")
	}
	for _, tc := range []struct {
		name   string
		mod    func(*Config)
		queued func(*rig) bool // the second request waits in the queue
	}{
		{"body budget", func(c *Config) { c.MaxBufferedBytes = 2 * bodyWeight(int64(len(unaryBody))) },
			func(r *rig) bool { return r.Metrics.Snapshot().Requests.InFlight == 2 }},
		{"concurrency limit", func(c *Config) { c.MaxConcurrent = 1 },
			func(*rig) bool { return strings.Contains(goroutines(), "(*Handler).takeSlot") }},
	} {
		for round := range 5 {
			t.Run(fmt.Sprintf("%s/%d", tc.name, round), func(t *testing.T) {
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

				// The second client sends its whole request, then leaves.
				u, _ := url.Parse(r.URL)
				c, err := net.Dial("tcp", u.Host)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(c, "POST /v1/messages HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nanthropic-version: 2023-06-01\r\nContent-Length: %d\r\n\r\n%s",
					u.Host, len(unaryBody), unaryBody)
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
				eventually(t, func() bool { return r.Metrics.Snapshot().Requests.InFlight == 0 },
					func() string { return "the queued request never ended" })
				if n := up.seen.Load(); n != 1 {
					t.Fatalf("the upstream got %d requests: the one whose client left while queued was sent", n)
				}
				if s := r.Metrics.Snapshot().Requests.ByStatus; s["499"] != 1 || s["200"] != 1 {
					t.Fatalf("statuses %v, want one 200 and one 499", s)
				}
				if r.H.budget.sem != nil && !budgetFree(r.H) {
					t.Fatal("the budget was not given back")
				}
			})
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
