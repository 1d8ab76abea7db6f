package netem

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer echoes every connection until the peer half-closes, then
// writes "bye" and closes.
func echoServer(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
				_, _ = c.Write([]byte("bye"))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln
}

func TestRelayCopiesBothWaysInOrderAndPropagatesHalfClose(t *testing.T) {
	ln := echoServer(t)
	r, err := Start(Options{Target: ln.Addr().String(), RTT: 2 * time.Millisecond, QueueChunks: 4, ChunkSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	c, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	payload := make([]byte, 1<<20) // far more than the bounded queue holds
	_, _ = rand.Read(payload)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(c)
		got <- b
	}()
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	b := <-got
	want := append(payload, "bye"...)
	if !bytes.Equal(b, want) {
		t.Fatalf("got %d bytes back; want %d identical bytes (payload then bye)", len(b), len(want))
	}
	st := r.Stats()
	if st.Conns != 1 || st.Up != int64(len(payload)) || st.Down != int64(len(want)) {
		t.Fatalf("stats = %+v; want 1 conn, %d up, %d down", st, len(payload), len(want))
	}
}

// TestRelayChargesRoundTrips checks lower bounds only: a connect plus one
// request/response exchange through a relay with RTT d cannot complete in
// less than 2*d (one RTT for the connect, one for the exchange). A lower
// bound cannot be met early by a slow machine, so this is not flaky.
func TestRelayChargesRoundTrips(t *testing.T) {
	ln := echoServer(t)
	const rtt = 30 * time.Millisecond
	r, err := Start(Options{Target: ln.Addr().String(), RTT: rtt})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := time.Now()
	c, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 4)
	for i := range 2 {
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		if string(buf) != "ping" {
			t.Fatalf("echo = %q", buf)
		}
		if min := time.Duration(i+2) * rtt; time.Since(start) < min {
			t.Fatalf("exchange %d done after %v; want at least %v", i+1, time.Since(start), min)
		}
	}
}

func TestRelayCloseEndsOpenConnections(t *testing.T) {
	ln := echoServer(t)
	r, err := Start(Options{Target: ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 8)); err == nil {
		t.Fatalf("read %d bytes after Close; want the connection closed", n)
	}
	if _, err := net.Dial("tcp", r.Addr); err == nil {
		t.Fatal("dial after Close succeeded; want refused")
	}
}

func TestRelayUnreachableTargetClosesClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r, err := Start(Options{Target: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("read err = %v; want EOF/reset from a relay that could not dial", err)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func BenchmarkRelayThroughput(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(io.Discard, c)
	}()
	r, err := Start(Options{Target: ln.Addr().String()})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	c, err := net.Dial("tcp", r.Addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}
