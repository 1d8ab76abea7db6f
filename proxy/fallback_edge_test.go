package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ccproxy/ccproxy/engine"
)

// TestNoFallbackThroughOpenBreaker: the circuit breaker guards the whole
// upstream, every model included, so a request refused by an open
// breaker is not "retried" on its fallbacks: each was translated, logged
// and counted as a fallback retry, then refused by the same breaker
// without reaching the upstream.
func TestNoFallbackThroughOpenBreaker(t *testing.T) {
	up := newKeyedUpstream(t, func(c upCall) answer {
		if c.Model == "gpt-4.1" {
			return answer{Status: http.StatusInternalServerError, Body: `{"error":{"message":"boom","type":"server_error"}}`}
		}
		return answer{Text: "from " + c.Model}
	})
	r := newRigFor(t, engines()[0], up.URL, func(c *Config, ec *engine.Config) {
		withFallbacks(map[string][]string{"gpt-4.1": {"gpt-4.1-mini", longModel}})(c, ec)
		c.MaxRetries = -1
		c.BreakerThreshold = 1
		c.BreakerCooldown = time.Hour
	}, nil)
	// The first request's 500 opens the breaker; its fallbacks meet it.
	call(t, r, keyRoutes[1])
	up.taken()
	before := r.Metrics.Snapshot().Retries.ByCause[causeFallback]
	logsBefore := strings.Count(r.logs(), "trying its fallback")
	st, _, b := call(t, r, keyRoutes[1])
	if st != http.StatusServiceUnavailable || !strings.Contains(b, "circuit breaker") {
		t.Fatalf("status %d: %s; want 503 from the open breaker", st, b)
	}
	if n := len(up.taken()); n != 0 {
		t.Fatalf("%d upstream calls through an open breaker", n)
	}
	if n := r.Metrics.Snapshot().Retries.ByCause[causeFallback] - before; n != 0 {
		t.Fatalf("%d fallback retries counted with the breaker open, want 0", n)
	}
	if n := strings.Count(r.logs(), "trying its fallback") - logsBefore; n != 0 {
		t.Fatalf("%d fallback log lines with the breaker open, want 0", n)
	}
}

// TestCheckFallbacks: Config.Fallbacks refuses what MODEL_FALLBACKS
// refuses: a model falling back to itself (tried twice for nothing), a
// fallback listed twice, empty names.
func TestCheckFallbacks(t *testing.T) {
	for _, fb := range []map[string][]string{
		{"gpt-5": {"gpt-4.1", "gpt-5"}},
		{"gpt-5": {"gpt-4.1", "gpt-4.1"}},
		{"gpt-5": {""}},
		{"": {"gpt-4.1"}},
		{"gpt-5": nil},
	} {
		if err := checkFallbacks(fb); err == nil {
			t.Errorf("%q accepted", fb)
		}
	}
	// A chain that loops is fine: only the first model's list is tried.
	if err := checkFallbacks(map[string][]string{"a": {"b"}, "b": {"a"}}); err != nil {
		t.Fatal(err)
	}
}

// TestFallbackChainDoesNotLoop: a=b and b=a: a request for a that fails
// tries b once, then answers; b's own fallbacks are not followed.
func TestFallbackChainDoesNotLoop(t *testing.T) {
	up := newKeyedUpstream(t, func(c upCall) answer {
		return answer{Status: http.StatusServiceUnavailable, Body: `{"error":{"message":"overloaded","type":"server_error"}}`}
	})
	r := newRigFor(t, engines()[0], up.URL, func(c *Config, ec *engine.Config) {
		withFallbacks(map[string][]string{"gpt-4.1": {"gpt-4.1-mini"}, "gpt-4.1-mini": {"gpt-4.1"}})(c, ec)
		c.MaxRetries = -1
		c.BreakerThreshold = -1
	}, nil)
	if st, _, b := call(t, r, keyRoutes[1]); st < 500 {
		t.Fatalf("status %d: %s", st, b)
	}
	if got := strings.Join(modelsOf(up.taken()), " "); got != "gpt-4.1 gpt-4.1-mini" {
		t.Fatalf("models sent %q", got)
	}
}

// TestFallbackClientGone: a client that goes away while its request waits
// on a fallback model frees everything the request held: the kept client
// body and the translation (large, pooled buffers) and the body budget.
func TestFallbackClientGone(t *testing.T) {
	body := fixture(t, "cc-2.1.332-print-first-turn.json")
	reached := make(chan struct{}, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if gjson.GetBytes(b, "model").Str != "fb-model" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"message":"overloaded","type":"server_error"}}`)
			return
		}
		reached <- struct{}{}
		<-r.Context().Done() // ccproxy hangs up when its client does
	}))
	t.Cleanup(up.Close)
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRigFor(t, eng, up.URL, func(c *Config, ec *engine.Config) {
				withFallbacks(map[string][]string{"gpt-4.1": {"fb-model"}, "gpt-4.1-mini": {"fb-model"}})(c, ec)
				c.MaxRetries = -1
				c.MaxBufferedBytes = 4 << 20
			}, nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL+"/v1/messages", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("anthropic-version", "2023-06-01")
			done := make(chan error, 1)
			go func() {
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				done <- err
			}()
			select {
			case <-reached:
			case err := <-done:
				t.Fatalf("answered before the fallback was tried: %v", err)
			}
			if budgetFree(r.H) {
				t.Fatal("the budget is free while the fallback is in flight: the kept body is not counted")
			}
			cancel()
			<-done
			// The handler notices the client's departure on its own
			// schedule: wait for it, bounded.
			deadline := time.Now().Add(10 * time.Second)
			for !(budgetFree(r.H) && r.H.large.Stats().InUse == 0) {
				if time.Now().After(deadline) {
					t.Fatalf("after the client left: budget free %v, large buffers in use %d bytes",
						budgetFree(r.H), r.H.large.Stats().InUse)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

// TestFallbackMeetsBreakerOpenedByItsModel: the first model's last
// failure opens the breaker; its fallback is refused by it without being
// sent, and the client hears the first model's failure (a 500 from the
// upstream), not the breaker's 503.
func TestFallbackMeetsBreakerOpenedByItsModel(t *testing.T) {
	up := newKeyedUpstream(t, func(c upCall) answer {
		if c.Model == "gpt-4.1" {
			return answer{Status: http.StatusInternalServerError, Body: `{"error":{"message":"boom","type":"server_error"}}`}
		}
		return answer{Text: "from " + c.Model}
	})
	r := newRigFor(t, engines()[0], up.URL, func(c *Config, ec *engine.Config) {
		withFallbacks(map[string][]string{"gpt-4.1": {"gpt-4.1-mini"}})(c, ec)
		c.MaxRetries = -1
		c.BreakerThreshold = 1
		c.BreakerCooldown = time.Hour
	}, nil)
	st, _, b := call(t, r, keyRoutes[1])
	if st != http.StatusInternalServerError || !strings.Contains(b, "boom") {
		t.Fatalf("status %d: %s; want the first model's 500", st, b)
	}
	if got := modelsOf(up.taken()); strings.Join(got, " ") != "gpt-4.1" {
		t.Fatalf("models sent %q; the fallback must not pass the open breaker", got)
	}
}
