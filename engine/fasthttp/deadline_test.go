package fasthttp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/engine"
)

// TestIdleDeadlineAfterStall: the read deadline is moved lazily (armIdle),
// so it may already be past when a caller that stalled longer than
// IdleReadTimeout reads again. That Read must still get the bytes the
// upstream sent meanwhile, not an immediate timeout. And a response
// without a body (204, HEAD) puts its connection back with the idle
// deadline armed: the next request on it, sent after that deadline has
// passed, must not inherit it.
func TestIdleDeadlineAfterStall(t *testing.T) {
	const idle = 50 * time.Millisecond
	sent := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stream":
			w.WriteHeader(200)
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			io.WriteString(w, "b")
			w.(http.Flusher).Flush()
			close(sent)
		case "/nobody":
			w.WriteHeader(http.StatusNoContent)
		default:
			io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(s.Close)
	e := newTestEngine(t, func(c *engine.Config) { c.IdleReadTimeout = idle })

	resp, err := e.Do(testCtx(t), &engine.Request{Method: "GET", URL: s.URL + "/stream"})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-sent
	time.Sleep(3 * idle) // the caller stalls; the deadline armed at the head passes
	b, err := io.ReadAll(resp.Body)
	if string(b) != "ab" || err != nil {
		t.Fatalf("body after a stall: %q, err %v; want \"ab\"", b, err)
	}
	resp.Body.Close()

	for _, m := range []string{"GET", "HEAD"} {
		path := "/nobody"
		if m == "HEAD" {
			path = "/"
		}
		resp, err := e.Do(testCtx(t), &engine.Request{Method: m, URL: s.URL + path})
		if err != nil {
			t.Fatalf("%s %s: %v", m, path, err)
		}
		resp.Body.Close()
		time.Sleep(3 * idle) // the idle deadline left on the pooled connection passes
		resp, err = e.Do(testCtx(t), &engine.Request{Method: "GET", URL: s.URL + "/"})
		if err != nil {
			t.Fatalf("request after %s %s on the reused connection: %v", m, path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ok" || err != nil {
			t.Fatalf("body after %s %s: %q, err %v", m, path, b, err)
		}
	}
	if st := e.PoolStats(); st.Created != 1 {
		t.Fatalf("pool stats %+v, want every request on one connection", st)
	}
}
