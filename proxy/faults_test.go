package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/engine"
)

const streamBody = `{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
const unaryBody = `{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`

// TestUpstreamStatusFaults: each upstream failure status reaches the
// client in Anthropic's shape, after the right number of attempts.
func TestUpstreamStatusFaults(t *testing.T) {
	cases := []struct {
		name       string
		faults     []fakeupstream.Fault
		status     int
		typ        string
		attempts   int64
		retryAfter string
	}{
		{"429 then ok", []fakeupstream.Fault{{Kind: fakeupstream.Status, Status: 429}}, 200, "", 2, ""},
		{"429 x3 with retry-after", rep(3, fakeupstream.Fault{Kind: fakeupstream.Status, Status: 429, RetryAfter: "0"}), 429, "rate_limit_error", 3, "0"},
		{"429 retry-after too long", []fakeupstream.Fault{{Kind: fakeupstream.Status, Status: 429, RetryAfter: "120"}}, 429, "rate_limit_error", 1, "120"},
		{"500 x3", rep(3, fakeupstream.Fault{Kind: fakeupstream.Status, Status: 500}), 500, "api_error", 3, ""},
		{"503 then ok", []fakeupstream.Fault{{Kind: fakeupstream.Status, Status: 503}}, 200, "", 2, ""},
		{"529 x3", rep(3, fakeupstream.Fault{Kind: fakeupstream.Status, Status: 529}), 529, "overloaded_error", 3, ""},
		{"502 x3", rep(3, fakeupstream.Fault{Kind: fakeupstream.Status, Status: 502}), 502, "api_error", 3, ""},
		{"400 not retried", []fakeupstream.Fault{{Kind: fakeupstream.Status, Status: 400}}, 400, "invalid_request_error", 1, ""},
		{"401 upstream is a 502", []fakeupstream.Fault{{Kind: fakeupstream.Status, Status: 401}}, 502, "api_error", 1, ""},
		{"404", []fakeupstream.Fault{{Kind: fakeupstream.Status, Status: 404}}, 404, "not_found_error", 1, ""},
		{"413", []fakeupstream.Fault{{Kind: fakeupstream.Status, Status: 413}}, 413, "request_too_large", 1, ""},
		{"reset before headers then ok", []fakeupstream.Fault{{Kind: fakeupstream.ResetBeforeHeaders}}, 200, "", 2, ""},
	}
	for _, eng := range engines() {
		for _, c := range cases {
			t.Run(eng+"/"+c.name, func(t *testing.T) {
				r := newRig(t, eng, fakeupstream.Options{}, nil)
				r.Up.InjectFaults(c.faults...)
				resp := post(t, r.URL, "/v1/messages", []byte(streamBody), nil)
				if resp.StatusCode != c.status {
					b, _ := io.ReadAll(resp.Body)
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, b)
				}
				if c.typ != "" {
					typ, msg := errorBody(t, resp)
					if typ != c.typ {
						t.Fatalf("type %s, want %s (%s)", typ, c.typ, msg)
					}
					if strings.Contains(msg, upstreamSecret) {
						t.Fatal("upstream key in an error message")
					}
				} else {
					checkGrammar(t, readEvents(t, resp.Body))
					resp.Body.Close()
				}
				if got := resp.Header.Get("Retry-After"); got != c.retryAfter {
					t.Fatalf("Retry-After %q, want %q", got, c.retryAfter)
				}
				if got := r.Up.Stats().Requests; got != c.attempts {
					t.Fatalf("upstream saw %d attempts, want %d", got, c.attempts)
				}
			})
		}
	}
}

func rep(n int, f fakeupstream.Fault) []fakeupstream.Fault {
	out := make([]fakeupstream.Fault, n)
	for i := range out {
		out[i] = f
	}
	return out
}

// TestMidStreamFaults: once the stream has begun, failures become an
// error event and the stream still ends with message_stop.
func TestMidStreamFaults(t *testing.T) {
	cases := []struct {
		name  string
		fault fakeupstream.Fault
		mod   func(*Config, *engine.Config)
	}{
		{"reset", fakeupstream.Fault{Kind: fakeupstream.ResetMidStream, AfterChunks: 3}, nil},
		{"truncated", fakeupstream.Fault{Kind: fakeupstream.Truncate, AfterChunks: 3}, nil},
		{"malformed chunk", fakeupstream.Fault{Kind: fakeupstream.MalformedChunk, AfterChunks: 3}, nil},
		{"error object", fakeupstream.Fault{Kind: fakeupstream.StreamError, AfterChunks: 3, Body: "boom"}, nil},
		{"stalled", fakeupstream.Fault{Kind: fakeupstream.Stall, AfterChunks: 3, Delay: 10 * time.Second},
			func(_ *Config, ec *engine.Config) { ec.IdleReadTimeout = 200 * time.Millisecond }},
		{"max stream duration", fakeupstream.Fault{Kind: fakeupstream.Stall, AfterChunks: 3, Delay: 10 * time.Second},
			// Long enough for the head to come first on a loaded machine
			// (before it, the deadline is a failed send, not a cut stream).
			func(c *Config, _ *engine.Config) { c.MaxStreamDuration = time.Second }},
	}
	for _, eng := range engines() {
		for _, c := range cases {
			t.Run(eng+"/"+c.name, func(t *testing.T) {
				r := newRig(t, eng, fakeupstream.Options{}, c.mod)
				r.Up.InjectFaults(c.fault)
				resp := post(t, r.URL, "/v1/messages", []byte(streamBody), nil)
				defer resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("status %d", resp.StatusCode)
				}
				evs := readEvents(t, resp.Body)
				checkGrammar(t, evs)
				if !slices.Contains(names(evs), "error") {
					t.Fatalf("want an error event: %v", names(evs))
				}
				if r.Up.Stats().Requests != 1 {
					t.Fatal("no retry after the stream has started")
				}
			})
		}
	}
}

// TestConnectionRefused: a dead upstream is a 502 after the retries.
func TestConnectionRefused(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRig(t, eng, fakeupstream.Options{}, func(c *Config, _ *engine.Config) {
				// Port 1, where nothing listens: not a port taken from a
				// closed listener, which the next listener (this rig's
				// own server, or another process's) can be given. Then
				// the test got 529 after 45 s (fasthttp) instead of 502.
				c.UpstreamURL = "http://127.0.0.1:1/v1"
			})
			resp := post(t, r.URL, "/v1/messages", []byte(unaryBody), nil)
			if resp.StatusCode != 502 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if typ, _ := errorBody(t, resp); typ != "api_error" {
				t.Fatalf("type %s", typ)
			}
		})
	}
}

// TestClientDisconnectCancelsUpstream: the upstream sees the client leave.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRig(t, eng, fakeupstream.Options{ChunkInterval: 50 * time.Millisecond, Chunks: 200}, nil)
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "POST", r.URL+"/v1/messages", strings.NewReader(streamBody))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 1)
			if _, err := resp.Body.Read(buf); err != nil {
				t.Fatal(err)
			}
			cancel()
			resp.Body.Close()
			deadline := time.Now().Add(5 * time.Second)
			for r.Up.Stats().Canceled == 0 {
				if time.Now().After(deadline) {
					t.Fatal("upstream never saw the cancellation")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestCircuitBreaker opens after consecutive 5xx, answers 503 without
// calling the upstream, and closes again after one good probe.
func TestCircuitBreaker(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, func(c *Config, _ *engine.Config) {
		c.BreakerThreshold, c.BreakerCooldown, c.MaxRetries = 2, time.Hour, -1
	})
	// The breaker's clock jumps past the cool-down when the test says so:
	// with a real 200 ms one, a loaded machine could take that long
	// between the second failure and the third request, which then found
	// the breaker half-open and went upstream.
	var skew atomic.Int64
	r.H.breaker.mu.Lock() // the handler reads now under the lock
	r.H.breaker.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	r.H.breaker.mu.Unlock()
	r.Up.InjectFaults(rep(2, fakeupstream.Fault{Kind: fakeupstream.Status, Status: 500})...)
	for i := 0; i < 2; i++ {
		resp := post(t, r.URL, "/v1/messages", []byte(unaryBody), nil)
		errorBody(t, resp)
	}
	resp := post(t, r.URL, "/v1/messages", []byte(unaryBody), nil)
	wantOverloaded(t, resp, http.StatusServiceUnavailable)
	if got := r.Up.Stats().Requests; got != 2 {
		t.Fatalf("open breaker still sent upstream: %d", got)
	}
	skew.Store(int64(time.Hour + time.Minute)) // the cool-down is over: the next request is the probe
	resp = post(t, r.URL, "/v1/messages", []byte(unaryBody), nil)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || r.H.breaker.State() != stateClosed {
		t.Fatalf("probe: status %d state %s", resp.StatusCode, r.H.breaker.State())
	}
}

// TestConcurrencyLimit: beyond MAX_CONCURRENT_REQUESTS a request waits
// briefly, then gets 529 with Retry-After.
func TestConcurrencyLimit(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, func(c *Config, _ *engine.Config) {
		c.MaxConcurrent, c.QueueTimeout = 1, 50*time.Millisecond
	})
	r.Up.InjectFaults(fakeupstream.Fault{Kind: fakeupstream.Stall, AfterChunks: 1, Delay: 2 * time.Second})
	first := post(t, r.URL, "/v1/messages", []byte(streamBody), nil)
	defer first.Body.Close()
	resp := post(t, r.URL, "/v1/messages", []byte(streamBody), nil)
	wantOverloaded(t, resp, 529)
}

// TestInboundAuth: with PROXY_API_KEY every route but /health wants it.
func TestInboundAuth(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, func(c *Config, _ *engine.Config) { c.APIKeys = []string{"k-one", "k-two"} })
	for _, c := range []struct {
		hdr    map[string]string
		status int
	}{
		{map[string]string{"x-api-key": "wrong"}, 401},
		{map[string]string{"x-api-key": ""}, 401},
		{map[string]string{"x-api-key": "k-two"}, 200},
		{map[string]string{"x-api-key": "", "Authorization": "Bearer k-one"}, 200},
	} {
		resp := post(t, r.URL, "/v1/messages", []byte(unaryBody), c.hdr)
		if resp.StatusCode != c.status {
			t.Fatalf("%v: status %d want %d", c.hdr, resp.StatusCode, c.status)
		}
		if c.status == 401 {
			if typ, _ := errorBody(t, resp); typ != "authentication_error" {
				t.Fatalf("type %s", typ)
			}
		} else {
			resp.Body.Close()
		}
		if got := r.Up.LastRequest().Header.Get("Authorization"); c.status == 200 && got != "Bearer "+upstreamSecret {
			t.Fatalf("upstream got %q", got)
		}
	}
}

// TestSecretsNotLogged: neither key appears in the logs, even at trace
// level where bodies are logged (a key pasted into a prompt included).
func TestSecretsNotLogged(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, func(c *Config, _ *engine.Config) {
		c.Logger = c.Logger.Level(zerolog.TraceLevel)
	})
	r.Up.InjectFaults(fakeupstream.Fault{Kind: fakeupstream.Status, Status: 401})
	resp := post(t, r.URL, "/v1/messages", []byte(unaryBody), nil)
	errorBody(t, resp)
	pasted := `{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"my key is sk-proj-PASTEDSECRET123 and {\"api_key\":\"hunter2hunter2\"}"}]}`
	resp = post(t, r.URL, "/v1/messages", []byte(pasted), nil)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	logs := r.logs()
	if !strings.Contains(logs, `"route":"messages"`) || !strings.Contains(logs, "client request body") {
		t.Fatalf("no request or trace body log lines: %s", logs)
	}
	for _, s := range []string{upstreamSecret, "sk-client-key", "PASTEDSECRET123", "hunter2hunter2"} {
		if strings.Contains(logs, s) {
			t.Fatalf("secret %q in logs", s)
		}
	}
}

// TestPassthrough: OpenAI requests pass through, streamed, with the
// client's own Accept-Encoding honoured.
func TestPassthrough(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRig(t, eng, fakeupstream.Options{Compression: "auto"}, nil)
			body := `{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"hi"}]}`
			resp := post(t, r.URL, "/v1/chat/completions", []byte(body), map[string]string{"Authorization": "Bearer client-key"})
			evs := readEvents(t, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(evs) < 3 || evs[len(evs)-1].Data != "[DONE]" {
				t.Fatalf("status %d events %v", resp.StatusCode, evs)
			}
			if resp.Header.Get("Server-Timing") == "" || resp.Header.Get("x-request-id") == "" {
				t.Fatalf("per-response figures missing on passthrough: %v", resp.Header)
			}
			var chunk map[string]any
			if err := json.Unmarshal([]byte(evs[0].Data), &chunk); err != nil || chunk["object"] != "chat.completion.chunk" {
				t.Fatalf("first event %v", evs[0])
			}
			if got := r.Up.LastRequest().Header.Get("Authorization"); got != "Bearer "+upstreamSecret {
				t.Fatalf("upstream auth %q", got)
			}
			// A client that accepts gzip gets the upstream's gzip bytes as they are.
			req, _ := http.NewRequest("POST", r.URL+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("Accept-Encoding", "gzip")
			tr := &http.Transport{DisableCompression: true}
			defer tr.CloseIdleConnections()
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Header.Get("Content-Encoding") != "gzip" || len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
				t.Fatalf("want raw gzip passthrough, got %q %q", resp.Header.Get("Content-Encoding"), raw[:min(len(raw), 16)])
			}
			// Models.
			mresp, err := http.Get(r.URL + "/v1/models")
			if err != nil {
				t.Fatal(err)
			}
			mb, _ := io.ReadAll(mresp.Body)
			mresp.Body.Close()
			if mresp.StatusCode != 200 || !strings.Contains(string(mb), `"object"`) {
				t.Fatalf("models %d %s", mresp.StatusCode, mb)
			}
		})
	}
}

// TestConcurrencyLimitClientGone: a client that goes away while queued for
// a slot is recorded as 499 (it left), not 529 (an overload), and its
// handler ends at once. Over h2c a client's cancellation reaches the
// handler's context while the request waits.
func TestConcurrencyLimitClientGone(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, func(c *Config, _ *engine.Config) {
		c.MaxConcurrent, c.QueueTimeout = 1, time.Minute
	})
	r.Up.InjectFaults(fakeupstream.Fault{Kind: fakeupstream.Stall, AfterChunks: 1, Delay: 5 * time.Second})
	first := post(t, r.URL, "/v1/messages", []byte(streamBody), nil)
	defer first.Body.Close()

	url, client := h2cFront(t, r.H)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/messages", strings.NewReader(streamBody))
	req.Header.Set("Content-Type", "application/json")
	errc := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("queued request answered %d", resp.StatusCode)
		}
		errc <- err
	}()
	// The client leaves once its request is queued (not after a fixed
	// 200 ms, which a loaded machine could spend before the request got
	// there: it then never reached the handler and no 499 came).
	eventually(t, func() bool { return strings.Contains(goroutines(), "(*Handler).takeSlot") },
		func() string { return "the second request never queued for a slot" })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued client: %v, want its own cancellation", err)
	}
	wait, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	for {
		s := r.Metrics.Snapshot().Requests
		if s.ByStatus["499"] == 1 {
			if s.ByStatus["529"] != 0 {
				t.Fatalf("statuses %v: the client that left counted as an overload too", s.ByStatus)
			}
			return
		}
		if wait.Err() != nil {
			t.Fatalf("statuses %v, want one 499: a client gone while queued must not wait for QUEUE_TIMEOUT or count as 529", s.ByStatus)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
