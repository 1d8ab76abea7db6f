package proxy

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"
)

// errCircuitOpen is returned instead of sending a request while the
// upstream's circuit breaker is open.
var errCircuitOpen = errors.New("proxy: upstream circuit breaker open")

// Breaker states as reported to metrics.
const (
	stateClosed   = "closed"
	stateOpen     = "open"
	stateHalfOpen = "half_open"
)

// breaker is a consecutive-failure circuit breaker that really half-opens:
// after the cool-down exactly one probe request is let through; its outcome
// closes the circuit or opens it for another cool-down. What counts as a
// failure is the caller's choice: send counts transport failures against
// the upstream-wide breaker and 5xx answers against the model's one.
type breaker struct {
	threshold int
	cooldown  time.Duration
	onChange  func(state string)
	now       func() time.Time

	mu        sync.Mutex
	state     string
	failures  int
	openUntil time.Time
	probing   bool
	// probe numbers the probes let through: allow hands the number to
	// its probe, and only the probe out now (probing, with this number)
	// frees the place when it gives no verdict. A probe that outlived
	// its half-open state (another request's failure opened the breaker
	// again, and a new probe went out after the next cool-down) holds an
	// older number.
	probe uint64
}

// newBreaker returns nil (no breaker) when threshold <= 0.
func newBreaker(threshold int, cooldown time.Duration, onChange func(string)) *breaker {
	if threshold <= 0 {
		return nil
	}
	if onChange == nil {
		onChange = func(string) {}
	}
	return &breaker{threshold: threshold, cooldown: cooldown, onChange: onChange, now: time.Now, state: stateClosed}
}

// allow reports whether a request may be sent now. When probe is not 0
// the caller is the half-open state's one probe: it must report its
// outcome with success, failure or abandon(probe).
func (b *breaker) allow() (ok bool, probe uint64, retryAfter time.Duration) {
	if b == nil {
		return true, 0, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case stateClosed:
		return true, 0, 0
	case stateOpen:
		if d := b.openUntil.Sub(b.now()); d > 0 {
			return false, 0, d
		}
		b.setState(stateHalfOpen)
	default: // half-open: one probe at a time
		if b.probing {
			return false, 0, time.Second
		}
	}
	b.probing = true
	b.probe++
	return true, b.probe, 0
}

func (b *breaker) success() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.failures = 0
	b.probing = false
	if b.state != stateClosed {
		b.setState(stateClosed)
	}
	b.mu.Unlock()
}

func (b *breaker) failure() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.probing = false
	b.failures++
	if b.state == stateHalfOpen || (b.state == stateClosed && b.failures >= b.threshold) {
		b.openUntil = b.now().Add(b.cooldown)
		b.setState(stateOpen)
	}
	b.mu.Unlock()
}

// abandon ends a request that gave this breaker no verdict (the client
// went away, the pool was full, or the failure was another breaker's to
// count). Only the probe out now (allow's probe) frees the probe's place:
// a request let through while closed (probe 0), or a probe of an earlier
// half-open state, leaves the current probe alone.
func (b *breaker) abandon(probe uint64) {
	if b == nil || probe == 0 {
		return
	}
	b.mu.Lock()
	if probe == b.probe {
		b.probing = false
	}
	b.mu.Unlock()
}

// refuses reports whether allow would refuse now (open and cooling
// down, or half-open with its probe out), without taking the probe.
func (b *breaker) refuses() bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case stateOpen:
		return b.openUntil.After(b.now())
	case stateHalfOpen:
		return b.probing
	}
	return false
}

// State returns the breaker's state: closed, open or half_open.
func (b *breaker) State() string {
	if b == nil {
		return stateClosed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

func (b *breaker) setState(s string) {
	b.state = s
	b.onChange(s)
}

// Bounds of the per-model breakers: model names are client-chosen on the
// passthrough route, so neither their number nor their length is left to
// the client.
const (
	// maxModelBreakers is how many models get a breaker of their own;
	// beyond that an idle one is evicted for the newcomer (see
	// evictIdle), or, all of them cooling down or probing, the newcomer
	// shares modelBreakers.other.
	maxModelBreakers = 64
	// maxModelNameLen: a longer model name shares modelBreakers.other.
	maxModelNameLen = 256
)

// modelBreakers holds one breaker per upstream model, opened by that
// model's 5xx/529 answers only, so that one overloaded model neither
// blocks the others nor its own fallbacks. The models are those seen (the
// upstream model a translated request resolved to, the body's model on
// the passthrough route), at most maxModelBreakers of them: a closed
// breaker (or an open one whose cool-down has ended) is evicted for a new
// model when the set is full, losing at most its count of recent
// failures; the others are kept, and a new model that finds every place
// taken by them (or a name longer than maxModelNameLen, or none, as GET
// /v1/models) shares the other breaker. A request looks its model up once (a mutex and a map read, no
// allocation); a new model allocates its breaker once.
type modelBreakers struct {
	threshold int
	cooldown  time.Duration
	// clock is the upstream-wide breaker, whose now every model breaker
	// takes when it is made (one clock to move in tests).
	clock    *breaker
	onChange func(model, state string)

	other *breaker // shared by the models without a breaker of their own

	mu      sync.Mutex
	byModel map[string]*breaker
}

// newModelBreakers returns nil (no per-model breakers) when threshold
// <= 0. onChange is told of every state change of a model's breaker;
// "" names the shared one.
func newModelBreakers(threshold int, cooldown time.Duration, clock *breaker, onChange func(model, state string)) *modelBreakers {
	if threshold <= 0 {
		return nil
	}
	s := &modelBreakers{threshold: threshold, cooldown: cooldown, clock: clock, onChange: onChange,
		byModel: make(map[string]*breaker)}
	s.other = s.make("")
	return s
}

// forModel returns model's breaker (nil without per-model breakers).
func (s *modelBreakers) forModel(model string) *breaker {
	if s == nil {
		return nil
	}
	if model == "" || len(model) > maxModelNameLen {
		return s.other
	}
	s.mu.Lock()
	b := s.byModel[model]
	if b == nil {
		b = s.add(model)
	}
	s.mu.Unlock()
	return b
}

// add makes model's breaker, evicting an idle one when the set is full;
// with none idle, model shares the other breaker. s.mu is held.
func (s *modelBreakers) add(model string) *breaker {
	if len(s.byModel) >= maxModelBreakers && !s.evictIdle() {
		return s.other
	}
	model = strings.Clone(model) // the name may point into a pooled body
	b := s.make(model)
	s.byModel[model] = b
	return b
}

// evictIdle removes a breaker that refuses nothing: a closed one without
// recent failures if there is one, else a closed one, else an open one
// whose cool-down has ended (its model not asked for since: the next
// request would be its probe, and a fresh breaker lets it through as
// well). It reports whether it removed one. s.mu is held.
func (s *modelBreakers) evictIdle() bool {
	victim, rank := "", 0 // 3 closed and clean, 2 closed, 1 open and cooled down
	for m, b := range s.byModel {
		b.mu.Lock()
		r := 0
		switch {
		case b.state == stateClosed && b.failures == 0:
			r = 3
		case b.state == stateClosed:
			r = 2
		case b.state == stateOpen && !b.openUntil.After(b.now()):
			r = 1
		}
		b.mu.Unlock()
		if r > rank {
			victim, rank = m, r
			if r == 3 {
				break
			}
		}
	}
	if rank == 0 {
		return false
	}
	delete(s.byModel, victim)
	return true
}

func (s *modelBreakers) make(model string) *breaker {
	b := newBreaker(s.threshold, s.cooldown, func(st string) { s.onChange(model, st) })
	if s.clock != nil {
		s.clock.mu.Lock()
		b.now = s.clock.now
		s.clock.mu.Unlock()
	}
	return b
}

// States returns the state of each model's breaker by model name; the
// shared one is listed as "(other)" once it has left the closed state.
func (s *modelBreakers) States() map[string]string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	out := make(map[string]string, len(s.byModel)+1)
	for m, b := range s.byModel {
		out[m] = b.State()
	}
	s.mu.Unlock()
	if st := s.other.State(); st != stateClosed {
		out[otherModels] = st
	}
	return out
}

// otherModels names the shared breaker in metrics and logs.
const otherModels = "(other)"

// circuitOpenError is send's refusal by an open breaker: nothing was sent
// upstream. Model is "" when the upstream-wide breaker refused (every
// model meets it), else the model whose own breaker refused.
type circuitOpenError struct {
	api   *apiError
	Model string
}

func (e *circuitOpenError) Error() string { return e.api.Error() }

// Unwrap gives the error the client is answered with.
func (e *circuitOpenError) Unwrap() error { return e.api }

// upstreamOpen is the refusal by the upstream-wide breaker.
func upstreamOpen(wait time.Duration) error {
	e := transportError(errCircuitOpen)
	e.RetryAfter = retryAfterSeconds(wait)
	return &circuitOpenError{api: e}
}

// modelOpen is the refusal by model's breaker.
func modelOpen(model string, wait time.Duration) error {
	name := model
	if name == "" || len(name) > maxModelNameLen {
		name = "this model"
	}
	return &circuitOpenError{Model: name, api: &apiError{Status: 503, Type: errOverloaded,
		Message:    "upstream model " + name + " is failing; ccproxy's circuit breaker for it is open",
		RetryAfter: retryAfterSeconds(wait)}}
}

// retryAfterSeconds rounds wait up to whole seconds, at least 1.
func retryAfterSeconds(wait time.Duration) string {
	return strconv.Itoa(int(wait/time.Second) + 1)
}

// newBreakers builds h's upstream-wide and per-model breakers from its
// config, logging their state changes and reporting them to metrics.
func (h *Handler) newBreakers() {
	th, cd := h.cfg.BreakerThreshold, h.cfg.BreakerCooldown
	h.breaker = newBreaker(th, cd, func(s string) {
		h.log.Warn().Str("state", s).Msg("upstream circuit breaker")
		if h.metrics != nil {
			h.metrics.SetBreakerState("upstream", s)
		}
	})
	h.models = newModelBreakers(th, cd, h.breaker, func(model, s string) {
		if model == "" {
			model = otherModels
		}
		h.log.Warn().Str("model", h.logText(model)).Str("state", s).Msg("upstream model circuit breaker")
	})
	if h.metrics != nil && h.breaker != nil {
		h.metrics.SetBreakerState("upstream", stateClosed)
		h.metrics.SetModelBreakers(h.models.States)
	}
}
