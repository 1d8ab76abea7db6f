package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/engine"
)

// smallBody asks for Claude Code's small model, which the rigs map to
// gpt-4.1-mini (the big one, unaryBody's, to gpt-4.1).
const smallBody = `{"model":"claude-3-5-haiku-latest","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`

// overloaded is a provider's answer for a model it cannot serve now.
var overloaded = answer{Status: 529, Body: `{"error":{"message":"Overloaded","type":"overloaded_error"}}`}

// skewClock makes the rig's breakers read a clock the test moves: the
// upstream-wide breaker's, which every model breaker takes when made, so
// it is set before the first request.
func skewClock(r *rig) *atomic.Int64 {
	var skew atomic.Int64
	r.H.breaker.mu.Lock()
	r.H.breaker.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	r.H.breaker.mu.Unlock()
	return &skew
}

// TestModelBreakerLeavesOtherModels: a model answering 529 until its
// breaker opens is refused (503, nothing sent) while the other model, on
// /v1/messages and passthrough alike, is still answered; the
// upstream-wide breaker stays closed. Before, one breaker guarded every
// model and the small model got 503 too.
func TestModelBreakerLeavesOtherModels(t *testing.T) {
	up := newKeyedUpstream(t, func(c upCall) answer {
		if c.Model == "gpt-4.1" {
			return overloaded
		}
		return answer{Text: "from " + c.Model}
	})
	r := newRigFor(t, engines()[0], up.URL, func(c *Config, _ *engine.Config) {
		c.BreakerThreshold, c.BreakerCooldown, c.MaxRetries = 2, time.Hour, -1
	}, nil)
	big := route{"big", "/v1/messages", unaryBody}
	for i := range 2 {
		if st, _, b := call(t, r, big); st != 529 {
			t.Fatalf("try %d: status %d: %s; want the upstream's 529", i, st, b)
		}
	}
	st, hd, b := call(t, r, big)
	if st != http.StatusServiceUnavailable || !strings.Contains(b, "upstream model gpt-4.1 is failing") || hd.Get("Retry-After") == "" {
		t.Fatalf("status %d %q: %s; want 503 from gpt-4.1's breaker with Retry-After", st, hd.Get("Retry-After"), b)
	}
	if got := modelsOf(up.taken()); strings.Join(got, " ") != "gpt-4.1 gpt-4.1" {
		t.Fatalf("models sent %q; the open breaker must send nothing", got)
	}
	for _, rt := range []route{
		{"small", "/v1/messages", smallBody},
		{"small stream", "/v1/messages", strings.Replace(smallBody, `"messages"`, `"stream":true,"messages"`, 1)},
		{"passthrough", "/v1/chat/completions", `{"model":"gpt-4.1-mini","messages":[{"role":"user","content":"hi"}]}`},
	} {
		if st, _, b := call(t, r, rt); st != http.StatusOK || !strings.Contains(b, "from gpt-4.1-mini") {
			t.Fatalf("%s: status %d: %s; another model's breaker must not refuse it", rt.name, st, b)
		}
	}
	if got := modelsOf(up.taken()); strings.Join(got, " ") != "gpt-4.1-mini gpt-4.1-mini gpt-4.1-mini" {
		t.Fatalf("models sent %q", got)
	}
	s := r.Metrics.Snapshot()
	if s.CircuitBreakers["upstream"] != stateClosed || s.ModelCircuitBreakers["gpt-4.1"] != stateOpen ||
		s.ModelCircuitBreakers["gpt-4.1-mini"] != stateClosed {
		t.Fatalf("upstream %v, models %v; want upstream closed, gpt-4.1 open, gpt-4.1-mini closed",
			s.CircuitBreakers, s.ModelCircuitBreakers)
	}
	if !strings.Contains(r.logs(), `"model":"gpt-4.1","state":"open"`) {
		t.Fatalf("the model breaker's opening is not logged:\n%s", r.logs())
	}
}

// TestUnreachableUpstreamOpensSharedBreaker: failures where nothing came
// back (connection refused) open the upstream-wide breaker, which then
// refuses every model and route without dialing; the models' own
// breakers saw no failure of theirs.
func TestUnreachableUpstreamOpensSharedBreaker(t *testing.T) {
	r := newRigFor(t, engines()[0], "http://127.0.0.1:1", func(c *Config, _ *engine.Config) {
		c.BreakerThreshold, c.BreakerCooldown, c.MaxRetries = 2, time.Hour, -1
	}, nil)
	for i := range 2 {
		if st, _, b := call(t, r, route{"big", "/v1/messages", unaryBody}); st != http.StatusBadGateway {
			t.Fatalf("try %d: status %d: %s; want 502", i, st, b)
		}
	}
	for _, rt := range []route{
		{"big", "/v1/messages", unaryBody},
		{"small", "/v1/messages", smallBody},
		{"passthrough", "/v1/chat/completions", `{"model":"gpt-4.1-mini","messages":[{"role":"user","content":"hi"}]}`},
	} {
		st, _, b := call(t, r, rt)
		if st != http.StatusServiceUnavailable || !strings.Contains(b, "upstream is failing; ccproxy's circuit breaker is open") {
			t.Fatalf("%s: status %d: %s; want 503 from the upstream-wide breaker", rt.name, st, b)
		}
	}
	if s := r.H.breaker.State(); s != stateOpen {
		t.Fatalf("upstream-wide breaker %s, want open", s)
	}
	for m, st := range r.H.models.States() {
		if st != stateClosed {
			t.Fatalf("model %s's breaker %s: a connection failure is not the model's", m, st)
		}
	}
}

// TestModelBreakerHalfOpenProbe: after the cool-down one request for the
// model is the probe; while it is out, the model's other requests are
// refused and other models are not held up; a failing probe opens the
// model's breaker again, a good one closes it.
func TestModelBreakerHalfOpenProbe(t *testing.T) {
	var healthy atomic.Bool
	hold := make(chan struct{})
	var held atomic.Int32
	up := newKeyedUpstream(t, func(c upCall) answer {
		if c.Model != "gpt-4.1" {
			return answer{Text: "from " + c.Model}
		}
		if healthy.Load() {
			held.Add(1)
			<-hold
			return answer{Text: "from " + c.Model}
		}
		return overloaded
	})
	r := newRigFor(t, engines()[0], up.URL, func(c *Config, _ *engine.Config) {
		c.BreakerThreshold, c.BreakerCooldown, c.MaxRetries = 1, time.Hour, -1
	}, nil)
	skew := skewClock(r)
	big := route{"big", "/v1/messages", unaryBody}
	wantRefused := func(what string) {
		t.Helper()
		if st, _, b := call(t, r, big); st != http.StatusServiceUnavailable || !strings.Contains(b, "gpt-4.1 is failing") {
			t.Fatalf("%s: status %d: %s; want 503 from gpt-4.1's breaker", what, st, b)
		}
	}
	if st, _, _ := call(t, r, big); st != 529 {
		t.Fatalf("first: status %d, want 529", st)
	}
	wantRefused("open")

	// A failing probe opens it for another cool-down.
	skew.Store(int64(time.Hour + time.Minute))
	if st, _, _ := call(t, r, big); st != 529 {
		t.Fatalf("failing probe: status %d, want the upstream's 529", st)
	}
	wantRefused("reopened")
	if got := modelsOf(up.taken()); strings.Join(got, " ") != "gpt-4.1 gpt-4.1" {
		t.Fatalf("models sent %q, want the first try and one probe", got)
	}

	// A good probe: held by the upstream while the test checks that it is
	// the only one, then released.
	skew.Store(int64(2*time.Hour + 2*time.Minute))
	healthy.Store(true)
	probe := make(chan int, 1)
	go func() {
		st, _, _ := call(t, r, big)
		probe <- st
	}()
	eventually(t, func() bool { return held.Load() == 1 }, func() string { return "the probe never reached the upstream" })
	if s := r.H.models.forModel("gpt-4.1").State(); s != stateHalfOpen {
		t.Fatalf("gpt-4.1's breaker %s during its probe, want half_open", s)
	}
	wantRefused("half-open, probe out")
	if st, _, b := call(t, r, route{"small", "/v1/messages", smallBody}); st != http.StatusOK {
		t.Fatalf("small model during gpt-4.1's probe: status %d: %s", st, b)
	}
	close(hold)
	if st := <-probe; st != http.StatusOK {
		t.Fatalf("probe: status %d", st)
	}
	if s := r.H.models.forModel("gpt-4.1").State(); s != stateClosed {
		t.Fatalf("gpt-4.1's breaker %s after a good probe, want closed", s)
	}
	if st, _, b := call(t, r, big); st != http.StatusOK {
		t.Fatalf("after the probe: status %d: %s", st, b)
	}
	if n := held.Load(); n != 2 {
		t.Fatalf("upstream saw %d healthy gpt-4.1 requests, want the probe and the next", n)
	}
}

// TestModelBreakersBounded: at most maxModelBreakers models get their own
// breaker; a new one evicts a closed one, and with every place held by an
// open breaker it shares the other breaker, as do an empty name and an
// overlong one.
func TestModelBreakersBounded(t *testing.T) {
	s := newModelBreakers(1, time.Hour, nil, func(string, string) {})
	for i := range maxModelBreakers {
		s.forModel("m" + strconv.Itoa(i)).failure() // threshold 1: open
	}
	if s.forModel("new") != s.other {
		t.Fatal("a new model got a place held by an open breaker")
	}
	if len(s.byModel) != maxModelBreakers {
		t.Fatalf("%d breakers, want %d", len(s.byModel), maxModelBreakers)
	}
	if s.forModel("") != s.other || s.forModel(strings.Repeat("x", maxModelNameLen+1)) != s.other {
		t.Fatal("an empty or overlong model name got a breaker of its own")
	}
	s.forModel("m7").success() // closed: may be evicted
	b := s.forModel("new")
	if b == s.other || s.byModel["m7"] != nil || len(s.byModel) != maxModelBreakers {
		t.Fatalf("the closed breaker was not evicted for the new model (%d breakers)", len(s.byModel))
	}
	if s.forModel("new") != b {
		t.Fatal("a model's breaker changed between lookups")
	}
	if st := s.States(); len(st) != maxModelBreakers || st["new"] != stateClosed || st["m0"] != stateOpen {
		t.Fatalf("states %v", st)
	}
}

// TestBreakerAbandonKeepsProbe: a request let through while the breaker
// was closed, ending without a verdict, does not free the probe's place:
// a second probe would go out beside the first.
func TestBreakerAbandonKeepsProbe(t *testing.T) {
	b := newBreaker(1, time.Hour, nil)
	var skew atomic.Int64
	b.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	ok, closed, _ := b.allow()
	if !ok || closed != 0 {
		t.Fatalf("closed: ok %v probe %v", ok, closed)
	}
	b.failure() // another request's failure opens it
	skew.Store(int64(2 * time.Hour))
	ok, probe, _ := b.allow()
	if !ok || probe == 0 {
		t.Fatalf("after the cool-down: ok %v probe %v, want the probe", ok, probe)
	}
	b.abandon(closed) // the first request ends without a verdict
	if ok, _, _ := b.allow(); ok || !b.refuses() {
		t.Fatal("a second probe let through while the first is out")
	}
	b.abandon(probe)
	if ok, probe, _ := b.allow(); !ok || probe == 0 {
		t.Fatal("the probe's place is not free after the probe gave no verdict")
	}
}

// BenchmarkModelBreakerLookup: the per-request cost of finding and asking
// a model's breaker (after the model's first request).
func BenchmarkModelBreakerLookup(b *testing.B) {
	s := newModelBreakers(5, time.Second, nil, func(string, string) {})
	models := []string{"gpt-4.1", "gpt-4.1-mini"}
	for _, m := range models {
		s.forModel(m)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			mb := s.forModel(models[i&1])
			if ok, _, _ := mb.allow(); ok {
				mb.success()
			}
			i++
		}
	})
}

// TestBreakerStaleProbeKeepsNewProbe: a probe that outlives its half-open
// state (another request's failure opened the breaker again, and after
// the next cool-down a new probe went out) and then ends without a
// verdict does not free the new probe's place: a second probe would go
// out beside it. Before, abandon freed whatever probe was out.
func TestBreakerStaleProbeKeepsNewProbe(t *testing.T) {
	b := newBreaker(1, time.Hour, nil)
	var skew atomic.Int64
	b.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	ok, slow, _ := b.allow() // let through while closed: a slow unary request
	if !ok || slow != 0 {
		t.Fatalf("closed: ok %v probe %v", ok, slow)
	}
	b.failure() // another request's failure opens it
	skew.Store(int64(2 * time.Hour))
	ok, first, _ := b.allow()
	if !ok || first == 0 {
		t.Fatalf("after the cool-down: ok %v probe %v, want the probe", ok, first)
	}
	b.failure() // the slow request fails: open again, the first probe still out
	skew.Store(int64(4 * time.Hour))
	ok, second, _ := b.allow()
	if !ok || second == 0 {
		t.Fatalf("after the second cool-down: ok %v probe %v, want a new probe", ok, second)
	}
	b.abandon(first) // the first probe's client goes away
	if ok, _, _ := b.allow(); ok || !b.refuses() {
		t.Fatal("a probe let through beside the current one: a stale probe freed its place")
	}
	b.abandon(second)
	if ok, p, _ := b.allow(); !ok || p == 0 {
		t.Fatal("the probe's place is not free after the current probe gave no verdict")
	}
}

// TestModelBreakersEvictExpiredOpen: an open breaker whose cool-down has
// ended (its model not asked for since) is evicted for a new model like a
// closed one: models seen once, failing, and never again no longer leave
// every later model sharing the other breaker, where one failing model
// refuses them all. Closed breakers go first.
func TestModelBreakersEvictExpiredOpen(t *testing.T) {
	clock := newBreaker(1, time.Hour, nil)
	var skew atomic.Int64
	clock.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	s := newModelBreakers(1, time.Hour, clock, func(string, string) {})
	for i := range maxModelBreakers {
		s.forModel("m" + strconv.Itoa(i)).failure() // threshold 1: open
	}
	if s.forModel("new") != s.other {
		t.Fatal("a new model took the place of a breaker still cooling down")
	}
	skew.Store(int64(2 * time.Hour))
	s.forModel("m3").success() // closed: evicted first
	b := s.forModel("new")
	if b == s.other || s.byModel["m3"] != nil {
		t.Fatal("the closed breaker was not evicted first")
	}
	b.failure() // open, cooling down: not to be evicted
	b2 := s.forModel("newer")
	if b2 == s.other || s.byModel["new"] != b || len(s.byModel) != maxModelBreakers {
		t.Fatalf("no place for a new model among open breakers whose cool-down ended (%d breakers)", len(s.byModel))
	}
	if ok, probe, _ := b2.allow(); !ok || probe != 0 {
		t.Fatalf("the new model's breaker: ok %v probe %v, want closed", ok, probe)
	}
}

// TestBreakerOpenedMidRetriesAnswersUpstreamError: a request whose own
// retries open its model's breaker (529, 529, then a try the breaker
// refuses) is answered with the upstream's last failure, what really
// happened, not with a breaker refusal claiming nothing was sent; so is
// a request whose connection failures open the upstream-wide one. The
// next request is refused by the breaker without reaching the upstream.
func TestBreakerOpenedMidRetriesAnswersUpstreamError(t *testing.T) {
	up := newKeyedUpstream(t, func(upCall) answer { return overloaded })
	r := newRigFor(t, engines()[0], up.URL, func(c *Config, _ *engine.Config) {
		c.BreakerThreshold, c.BreakerCooldown, c.MaxRetries = 2, time.Hour, 2
		c.RetryBaseDelay, c.RetryMaxDelay = time.Millisecond, time.Millisecond
	}, nil)
	big := route{"big", "/v1/messages", unaryBody}
	st, _, b := call(t, r, big)
	if st != 529 || !strings.Contains(b, "Overloaded") {
		t.Fatalf("status %d: %s; want the upstream's 529", st, b)
	}
	if got := modelsOf(up.taken()); strings.Join(got, " ") != "gpt-4.1 gpt-4.1" {
		t.Fatalf("models sent %q, want two tries before the breaker opened", got)
	}
	if st, _, b := call(t, r, big); st != http.StatusServiceUnavailable || !strings.Contains(b, "gpt-4.1 is failing") {
		t.Fatalf("next: status %d: %s; want 503 from gpt-4.1's breaker", st, b)
	}

	r = newRigFor(t, engines()[0], "http://127.0.0.1:1", func(c *Config, _ *engine.Config) {
		c.BreakerThreshold, c.BreakerCooldown, c.MaxRetries = 2, time.Hour, 2
		c.RetryBaseDelay, c.RetryMaxDelay = time.Millisecond, time.Millisecond
	}, nil)
	if st, _, b := call(t, r, big); st != http.StatusBadGateway || !strings.Contains(b, "upstream unreachable") {
		t.Fatalf("unreachable: status %d: %s; want 502", st, b)
	}
	if st, _, b := call(t, r, big); st != http.StatusServiceUnavailable || !strings.Contains(b, "circuit breaker is open") {
		t.Fatalf("unreachable, next: status %d: %s; want 503 from the upstream-wide breaker", st, b)
	}
}
