package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/engine"
)

// gatedUpstream is an OpenAI upstream whose first request waits for
// headGate before its response head and for endGate before its last
// events; later requests are answered at once. It counts the requests it
// has seen.
type gatedUpstream struct {
	seen              atomic.Int32
	headGate, endGate chan struct{}
	url               string
}

func newGatedUpstream(t *testing.T) *gatedUpstream {
	g := &gatedUpstream{headGate: make(chan struct{}), endGate: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		first := g.seen.Add(1) == 1
		if first {
			<-g.headGate
		}
		stream := strings.Contains(string(body), `"stream":true`)
		if !stream {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"}}]}\n\n")
		w.(http.Flusher).Flush()
		if first {
			<-g.endGate
		}
		io.WriteString(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { g.open(g.headGate); g.open(g.endGate) }) // before srv.Close runs
	g.url = srv.URL
	return g
}

func (g *gatedUpstream) open(c chan struct{}) {
	select {
	case <-c:
	default:
		close(c)
	}
}

// budgetFree reports whether the whole body budget is free again.
func budgetFree(h *Handler) bool {
	if !h.budget.sem.TryAcquire(h.budget.size) {
		return false
	}
	h.budget.sem.Release(h.budget.size)
	return true
}

// TestBodyBudget: with MAX_BUFFERED_BYTES room for one request's buffers,
// a second request waits (its body unread) while the first waits for the
// upstream's head, and gets 529 after QUEUE_TIMEOUT without reaching the
// upstream. The budget is given back at the upstream's head, not at the
// end of the stream: a third request runs while the first still streams.
func TestBodyBudget(t *testing.T) {
	for _, eng := range engines() {
		for _, route := range []struct {
			path, body string
			bufs       int64
		}{
			{"/v1/messages", streamBody, 2},
			{"/v1/chat/completions", `{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"hi"}]}`, 1},
		} {
			t.Run(eng+route.path, func(t *testing.T) {
				up := newGatedUpstream(t)
				r := newRigFor(t, eng, up.url, func(c *Config, _ *engine.Config) {
					c.MaxBufferedBytes = route.bufs * bodyWeight(int64(len(route.body)))
					c.QueueTimeout = 100 * time.Millisecond
				}, nil)

				firstc := make(chan *http.Response, 1)
				go func() { firstc <- post(t, r.URL, route.path, []byte(route.body), nil) }()
				for up.seen.Load() == 0 {
					time.Sleep(time.Millisecond) // the first request reaches the upstream
				}

				second := post(t, r.URL, route.path, []byte(route.body), nil)
				wantOverloaded(t, second, 529)
				if n := up.seen.Load(); n != 1 {
					t.Fatalf("upstream saw %d requests while the budget was spent, want 1", n)
				}
				if s := r.Metrics.Snapshot().Requests; s.BufferWaits != 1 || s.BufferedBytes <= 0 {
					t.Fatalf("metrics: buffer_waits %d, buffered_bytes %d; want 1 and the first request's share", s.BufferWaits, s.BufferedBytes)
				}

				up.open(up.headGate)
				first := <-firstc
				defer first.Body.Close()
				br := bufio.NewReader(first.Body)
				if line, err := br.ReadString('\n'); err != nil || first.StatusCode != 200 || !strings.HasPrefix(line, "event: message_start") && !strings.HasPrefix(line, "data: ") {
					t.Fatalf("first: status %d, line %q, %v", first.StatusCode, line, err)
				}

				third := post(t, r.URL, route.path, []byte(route.body), nil)
				body, _ := io.ReadAll(third.Body)
				third.Body.Close()
				if third.StatusCode != 200 || !strings.Contains(string(body), "[DONE]") && !strings.Contains(string(body), "message_stop") {
					t.Fatalf("third, while the first streams: status %d, body %q", third.StatusCode, body)
				}

				up.open(up.endGate)
				rest, err := io.ReadAll(br)
				if err != nil || !strings.Contains(string(rest), "[DONE]") && !strings.Contains(string(rest), "message_stop") {
					t.Fatalf("first stream's end: %q, %v", rest, err)
				}
				first.Body.Close()
				if !budgetFree(r.H) {
					t.Fatal("the budget was not given back")
				}
				if b := r.Metrics.Snapshot().Requests.BufferedBytes; b != 0 {
					t.Fatalf("metrics: buffered_bytes %d after every request, want 0", b)
				}
			})
		}
	}
}

// TestBodyBudgetClientGone: a client that leaves while its request waits
// for the budget gets its own cancellation at once, and the wait leaves
// nothing behind. net/http watches a connection only once the body has been
// read, so the handler notices the departure only when its wait ends: at
// QUEUE_TIMEOUT here, without reaching the upstream (were the budget freed
// earlier, the request would be read and sent before net/http noticed).
func TestBodyBudgetClientGone(t *testing.T) {
	up := newGatedUpstream(t)
	r := newRigFor(t, "nethttp", up.url, func(c *Config, _ *engine.Config) {
		c.MaxBufferedBytes = 2 * bodyWeight(int64(len(unaryBody)))
		c.QueueTimeout = 200 * time.Millisecond
	}, nil)
	firstc := make(chan *http.Response, 1)
	go func() { firstc <- post(t, r.URL, "/v1/messages", []byte(unaryBody), nil) }()
	for up.seen.Load() == 0 {
		time.Sleep(time.Millisecond)
	}

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.URL+"/v1/messages", strings.NewReader(unaryBody))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		errc <- err
	}()
	// The waiting request shows as in flight; then its client leaves.
	for r.Metrics.Snapshot().Requests.InFlight < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting client: %v, want its own cancellation", err)
	}
	for r.Metrics.Snapshot().Requests.InFlight > 1 {
		time.Sleep(time.Millisecond) // the abandoned handler's wait ends
	}

	up.open(up.headGate)
	first := <-firstc
	io.Copy(io.Discard, first.Body)
	first.Body.Close()
	if first.StatusCode != 200 {
		t.Fatalf("first: status %d", first.StatusCode)
	}
	if n := up.seen.Load(); n != 1 {
		t.Fatalf("upstream saw %d requests, want 1", n)
	}
	if !budgetFree(r.H) {
		t.Fatal("the budget was not given back")
	}
}

// TestBodyBudgetLargeBody: a body larger than the whole budget is not
// refused: it waits for the whole budget and runs alone.
func TestBodyBudgetLargeBody(t *testing.T) {
	body := fixture(t, "cc-2.1.332-print-first-turn.json")
	up := newGatedUpstream(t)
	up.open(up.headGate)
	up.open(up.endGate)
	r := newRigFor(t, "nethttp", up.url, func(c *Config, _ *engine.Config) {
		c.MaxBufferedBytes = 16 << 10
	}, nil)
	wantMessageStop(t, post(t, r.URL, "/v1/messages", body, nil), "turn")
	if !budgetFree(r.H) {
		t.Fatal("the budget was not given back")
	}
}

// TestBodyBudgetUnknownLength: a body sent without Content-Length
// (chunked) counts what it grows to, not one buffer's worth: while a
// 400 KB chunked turn waits for the upstream's head, holding its 400 KB
// translation, a 350 KB turn does not fit in a 1 MiB budget and gets 529
// without reaching the upstream. A chunked body larger than the whole
// budget still runs (alone), and the budget is all given back.
func TestBodyBudgetUnknownLength(t *testing.T) {
	turn := func(n int) string {
		return `{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"` +
			strings.Repeat("x", n) + `"}]}`
	}
	chunked := func(url, body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, url+"/v1/messages", io.NopCloser(strings.NewReader(body)))
		req.ContentLength = -1 // sent chunked
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return nil
		}
		return resp
	}
	up := newGatedUpstream(t)
	r := newRigFor(t, "nethttp", up.url, func(c *Config, _ *engine.Config) {
		c.MaxBufferedBytes = 1 << 20
		c.QueueTimeout = 100 * time.Millisecond
	}, nil)
	t.Cleanup(func() { up.open(up.headGate); up.open(up.endGate) }) // before the proxy's server closes

	firstc := make(chan *http.Response, 1)
	go func() { firstc <- chunked(r.URL, turn(400<<10)) }()
	for up.seen.Load() == 0 {
		time.Sleep(time.Millisecond) // the first request reaches the upstream
	}
	second := post(t, r.URL, "/v1/messages", []byte(turn(350<<10)), nil)
	wantOverloaded(t, second, 529)
	if n := up.seen.Load(); n != 1 {
		t.Fatalf("upstream saw %d requests while a chunked body held most of the budget, want 1", n)
	}

	up.open(up.headGate)
	up.open(up.endGate)
	wantMessageStop(t, <-firstc, "first")
	wantMessageStop(t, chunked(r.URL, turn(1500<<10)), "chunked body larger than the budget")
	if !budgetFree(r.H) {
		t.Fatal("the budget was not given back")
	}
}

// TestStopEndsBudgetWait: a request waiting for the body budget when Stop
// is called gets the shutting-down answer (503 overloaded_error, which
// clients retry elsewhere) at once. The budget's holder here is a request
// whose client is still sending its body, which Stop does not cut; before,
// the waiter waited out QUEUE_TIMEOUT (here an hour).
//
// With the Handler's BaseContext on the server, Stop cancels the waiting
// request's own context too: it must still read as Stop, not as the
// client gone (which answered nothing: an empty 200).
func TestStopEndsBudgetWait(t *testing.T) {
	for _, base := range []bool{true, false} {
		t.Run(fmt.Sprintf("base=%v", base), func(t *testing.T) {
			up := newGatedUpstream(t)
			stopEndsWait(t, up, base, "the body budget",
				func(c *Config) { c.MaxBufferedBytes = 2 * bodyWeight(int64(len(streamBody))) },
				func(r *rig) bool { return r.Metrics.Snapshot().Requests.BufferWaits > 0 })
			if n := up.seen.Load(); n != 0 {
				t.Fatalf("upstream saw %d requests, want 0", n)
			}
		})
	}
}

// TestStopEndsSlotWait: the same for a request queued for a slot
// (MAX_CONCURRENT_REQUESTS) when Stop is called, with and without the
// Handler's BaseContext (with it, the request's context and Stop's end
// together, and the wait must not pick the client-gone branch).
func TestStopEndsSlotWait(t *testing.T) {
	for _, base := range []bool{true, false} {
		t.Run(fmt.Sprintf("base=%v", base), func(t *testing.T) {
			stopEndsWait(t, newGatedUpstream(t), base, "a slot",
				func(c *Config) { c.MaxConcurrent = 1 },
				func(*rig) bool { return strings.Contains(goroutines(), "(*Handler).takeSlot") })
		})
	}
}

// stopEndsWait serves with limit applied (served with or without the
// Handler's BaseContext), holds the limited resource with a half-sent
// request, sends a second request, waits until waiting reports it queued
// for what, calls Stop and expects the second to get 503 overloaded_error.
func stopEndsWait(t *testing.T, up *gatedUpstream, base bool, what string, limit func(*Config), waiting func(*rig) bool) {
	t.Helper()
	r := newRigBase(t, "nethttp", up.url, func(c *Config, _ *engine.Config) {
		limit(c)
		c.QueueTimeout = time.Hour
		c.ClientReadTimeout = time.Hour
	}, nil, base)
	finish := halfSent(t, r) // holds the budget or the only slot
	secondc := make(chan *http.Response, 1)
	go func() { secondc <- post(t, r.URL, "/v1/messages", []byte(streamBody), nil) }()
	for !waiting(r) {
		time.Sleep(time.Millisecond) // the second waits
	}
	r.H.Stop()
	select {
	case second := <-secondc:
		wantOverloaded(t, second, http.StatusServiceUnavailable)
	case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
		t.Fatalf("the request queued for %s was not answered after Stop", what)
	}
	finish()
}

// goroutines is the stacks of every goroutine, one line per frame.
func goroutines() string {
	var b strings.Builder
	pprof.Lookup("goroutine").WriteTo(&b, 1)
	return b.String()
}

// halfSent starts a streamBody request to r whose client sends half its
// body and stops, so that it holds its slot and its share of the body
// budget (Stop does not cut a body still arriving). It returns once the
// handler holds both: in flight (counted after its slot is taken) with
// body bytes reserved (before it reads). The pipe's Write returning says
// only that the client's transport took the half, not that the handler
// has started: a request sent after it could otherwise reach the handler
// first, take what this one was to hold, and be the one sent upstream
// while this one waits. finish sends the rest and waits for the answer.
func halfSent(t *testing.T, r *rig) (finish func()) {
	t.Helper()
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() }) // a test that fails early still ends the request
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest(http.MethodPost, r.URL+"/v1/messages", pr)
		req.ContentLength = int64(len(streamBody))
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	pw.Write([]byte(streamBody[:len(streamBody)/2]))
	eventually(t, func() bool {
		s := r.Metrics.Snapshot().Requests
		return s.InFlight == 1 && s.BufferedBytes > 0
	}, func() string { return "the half-sent request never held its slot and body budget" })
	return func() {
		pw.Write([]byte(streamBody[len(streamBody)/2:]))
		pw.Close()
		<-done
	}
}

// TestStopSlotWaitUnderBaseContext: a request queued for a slot whose
// context Stop has ended along with Stop's own (the server uses the
// Handler's BaseContext) is answered as shutting down, never taken for a
// client gone (which answers nothing). Both are ready when the wait starts,
// so a select that weighed them equally would pick the wrong one about
// every other time: 32 tries.
func TestStopSlotWaitUnderBaseContext(t *testing.T) {
	r := newRigFor(t, "nethttp", "http://127.0.0.1:1", func(c *Config, _ *engine.Config) {
		c.MaxConcurrent = 1
		c.QueueTimeout = time.Hour
	}, nil)
	h := r.H
	h.slots <- struct{}{} // the only slot is taken
	defer h.releaseSlot()
	ctx := h.BaseContext(nil)
	h.Stop()
	req := httptest.NewRequest(http.MethodPost, "/v1/messages", nil).WithContext(ctx)
	for i := range 32 {
		rec := httptest.NewRecorder()
		var rs reqState
		if h.takeSlot(rec, req, &rs) {
			t.Fatal("a slot was taken while the only one is held")
		}
		if rec.Code != http.StatusServiceUnavailable || rs.clientGone {
			t.Fatalf("try %d: status %d (recorded %d, client gone %v), want 503 shutting down", i, rec.Code, rs.status, rs.clientGone)
		}
	}
}
