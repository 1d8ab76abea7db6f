//go:build !race

package proxy

import (
	"testing"
	"time"
)

// TestModelBreakerLookupAllocs: a request for a model already seen finds
// its breaker and reports to it without allocating.
func TestModelBreakerLookupAllocs(t *testing.T) {
	s := newModelBreakers(5, time.Second, nil, func(string, string) {})
	model := string([]byte("gpt-4.1")) // not the constant's memory
	s.forModel(model)
	if n := testing.AllocsPerRun(1000, func() {
		mb := s.forModel(model)
		if ok, _, _ := mb.allow(); ok {
			mb.success()
		}
	}); n != 0 {
		t.Fatalf("%v allocations per lookup, want 0", n)
	}
}
