package proxy

import (
	"errors"
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
// closes the circuit or opens it for another cool-down. Only upstream
// failures (5xx, timeouts, connection errors) count; 4xx never do.
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

// allow reports whether a request may be sent now. When it returns true in
// the half-open state, the caller is the probe and must report its outcome
// with success, failure or abandon.
func (b *breaker) allow() (ok bool, retryAfter time.Duration) {
	if b == nil {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case stateClosed:
		return true, 0
	case stateOpen:
		if d := b.openUntil.Sub(b.now()); d > 0 {
			return false, d
		}
		b.setState(stateHalfOpen)
		b.probing = true
		return true, 0
	default: // half-open: one probe at a time
		if b.probing {
			return false, time.Second
		}
		b.probing = true
		return true, 0
	}
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

// abandon ends a request that gave no verdict (the client went away).
func (b *breaker) abandon() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

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
