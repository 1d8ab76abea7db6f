package nethttp

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/ccproxy/ccproxy/engine"
)

// writeCounter counts the writes that reach a connection.
type writeCounter struct {
	net.Conn
	n *atomic.Int64
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.n.Add(1)
	return w.Conn.Write(p)
}

// TestSmallRequestOneWrite: a small request leaves as one write (head and
// body together); net/http flushes the head on its own for bodies it does
// not know to be in memory.
func TestSmallRequestOneWrite(t *testing.T) {
	url := rawUpstream(t, benchResp)
	e := newTestEngine(t, nil)
	var writes atomic.Int64
	dial := e.tr.DialContext
	e.tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &writeCounter{Conn: c, n: &writes}, nil
	}
	hdr := http.Header{"Content-Type": {"application/json"}}
	for _, size := range []int{len(benchReq), smallBody} {
		body := bytes.Repeat([]byte("x"), size)
		before := writes.Load()
		resp, err := e.Do(ctxT(t), &engine.Request{Method: http.MethodPost, URL: url + "/v1/chat/completions", Header: hdr, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got := writes.Load() - before; got != 1 {
			t.Errorf("%d-byte body: %d writes, want 1", size, got)
		}
	}
}
