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

// TestNoFallbackThroughOpenBreaker: the upstream-wide breaker guards
// every model, so a request whose model timed out until it opened is not
// "retried" on its fallbacks: each would be translated, logged and
// counted as a fallback retry, then refused by the same breaker without
// reaching the upstream. The client hears the timeout, not the breaker.
func TestNoFallbackThroughOpenBreaker(t *testing.T) {
	release := make(chan struct{})
	up := newKeyedUpstream(t, func(c upCall) answer {
		if c.Model == "gpt-4.1" {
			<-release // no head before the proxy's header timeout
		}
		return answer{Text: "from " + c.Model}
	})
	t.Cleanup(func() { close(release) }) // before the upstream's Close waits for its handlers
	r := newRigFor(t, engines()[0], up.URL, func(c *Config, ec *engine.Config) {
		withFallbacks(map[string][]string{"gpt-4.1": {"gpt-4.1-mini", longModel}})(c, ec)
		ec.ResponseHeaderTimeout = 300 * time.Millisecond
		c.MaxRetries = -1
		c.BreakerThreshold = 1
		c.BreakerCooldown = time.Hour
	}, nil)
	st, _, b := call(t, r, keyRoutes[1])
	if st != http.StatusGatewayTimeout || !strings.Contains(b, "timed out") {
		t.Fatalf("status %d: %s; want gpt-4.1's 504", st, b)
	}
	if got := modelsOf(up.taken()); strings.Join(got, " ") != "gpt-4.1" {
		t.Fatalf("models sent %q; the fallbacks must not pass the open breaker", got)
	}
	if s := r.H.breaker.State(); s != stateOpen {
		t.Fatalf("upstream-wide breaker %s after a header timeout, want open", s)
	}
	if n := r.Metrics.Snapshot().Retries.ByCause[causeFallback]; n != 0 {
		t.Fatalf("%d fallback retries counted with the breaker open, want 0", n)
	}
	if n := strings.Count(r.logs(), "trying its fallback"); n != 0 {
		t.Fatalf("%d fallback log lines with the breaker open, want 0", n)
	}
	// Refused by the open breaker: not worth a fallback either.
	st, _, b = call(t, r, keyRoutes[1])
	if st != http.StatusServiceUnavailable || !strings.Contains(b, "circuit breaker is open") {
		t.Fatalf("status %d: %s; want 503 from the open breaker", st, b)
	}
	if n := len(up.taken()); n != 0 {
		t.Fatalf("%d upstream calls through an open breaker", n)
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

// TestFallbackPassesBreakerOpenedByItsModel: the first model's 529s open
// its own breaker; its fallback has its own, and answers: the request
// that opened it and the next ones, which no longer try the first model
// (not sent, not logged, not counted as a fallback retry). Before, one
// breaker guarded every model: the fallback was refused and the client
// got the first model's failure, then 503s.
func TestFallbackPassesBreakerOpenedByItsModel(t *testing.T) {
	up := newKeyedUpstream(t, func(c upCall) answer {
		if c.Model == "gpt-4.1" {
			return answer{Status: 529, Body: `{"error":{"message":"Overloaded","type":"overloaded_error"}}`}
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
	if st != http.StatusOK || !strings.Contains(b, "from gpt-4.1-mini") {
		t.Fatalf("status %d: %s; want the fallback's answer", st, b)
	}
	if got := modelsOf(up.taken()); strings.Join(got, " ") != "gpt-4.1 gpt-4.1-mini" {
		t.Fatalf("models sent %q", got)
	}
	if s := r.H.models.forModel("gpt-4.1").State(); s != stateOpen {
		t.Fatalf("gpt-4.1's breaker %s, want open", s)
	}
	retries := r.Metrics.Snapshot().Retries.ByCause[causeFallback]
	logs := strings.Count(r.logs(), "trying its fallback")
	for _, rt := range keyRoutes[:2] {
		st, _, b := call(t, r, rt)
		if st != http.StatusOK || !strings.Contains(b, "from gpt-4.1-mini") {
			t.Fatalf("%s: status %d: %s; want the fallback's answer", rt.name, st, b)
		}
		if got := modelsOf(up.taken()); strings.Join(got, " ") != "gpt-4.1-mini" {
			t.Fatalf("%s: models sent %q; the open breaker must keep gpt-4.1 out", rt.name, got)
		}
	}
	if n := r.Metrics.Snapshot().Retries.ByCause[causeFallback] - retries; n != 2 {
		t.Fatalf("%d fallback retries for two requests, want 2", n)
	}
	if n := strings.Count(r.logs(), "trying its fallback") - logs; n != 2 {
		t.Fatalf("%d fallback log lines for two requests, want 2", n)
	}
}

// TestFallbackSkipsOpenFallback: a fallback whose own breaker is open is
// skipped for the next one, and with none left the client hears the
// first model's failure as the upstream gave it, not a breaker's 503.
func TestFallbackSkipsOpenFallback(t *testing.T) {
	up := newKeyedUpstream(t, func(c upCall) answer {
		if c.Model == longModel {
			return answer{Text: "from " + c.Model}
		}
		return answer{Status: http.StatusInternalServerError, Body: `{"error":{"message":"boom from ` + c.Model + `","type":"server_error"}}`}
	})
	fb := map[string][]string{"gpt-4.1": {"gpt-4.1-mini", longModel}}
	r := newRigFor(t, engines()[0], up.URL, func(c *Config, ec *engine.Config) {
		withFallbacks(fb)(c, ec)
		c.MaxRetries = -1
		c.BreakerThreshold = 1
		c.BreakerCooldown = time.Hour
	}, nil)
	// gpt-4.1-mini fails on its own and opens its breaker.
	if st, _, b := call(t, r, route{"small", "/v1/messages", smallBody}); st != http.StatusInternalServerError {
		t.Fatalf("small: status %d: %s", st, b)
	}
	up.taken()
	st, _, b := call(t, r, keyRoutes[1])
	if st != http.StatusOK || !strings.Contains(b, "from "+longModel) {
		t.Fatalf("status %d: %s; want the last fallback's answer", st, b)
	}
	if got := modelsOf(up.taken()); strings.Join(got, " ") != "gpt-4.1 "+longModel {
		t.Fatalf("models sent %q; the open gpt-4.1-mini must be skipped", got)
	}
	// Now with every fallback's breaker open and gpt-4.1's closed again:
	// gpt-4.1's 500 is what the client hears.
	r.H.models.forModel(longModel).failure()
	r.H.models.forModel("gpt-4.1").success()
	st, _, b = call(t, r, keyRoutes[1])
	if st != http.StatusInternalServerError || !strings.Contains(b, "boom from gpt-4.1") {
		t.Fatalf("status %d: %s; want gpt-4.1's own 500", st, b)
	}
	if got := modelsOf(up.taken()); strings.Join(got, " ") != "gpt-4.1" {
		t.Fatalf("models sent %q; the open fallbacks must be skipped", got)
	}
	// gpt-4.1's breaker is open now too: refused by it, nothing sent.
	st, _, b = call(t, r, keyRoutes[1])
	if st != http.StatusServiceUnavailable || !strings.Contains(b, "gpt-4.1 is failing") {
		t.Fatalf("status %d: %s; want 503 from gpt-4.1's breaker", st, b)
	}
	if n := len(up.taken()); n != 0 {
		t.Fatalf("%d upstream calls with every model's breaker open", n)
	}
}
