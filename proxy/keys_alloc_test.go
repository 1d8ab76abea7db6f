//go:build !race

package proxy

import (
	"testing"

	"github.com/ccproxy/ccproxy/engine"
)

// TestKeyChoiceAllocs: choosing a key and putting it into a translated
// request allocates nothing, with one key or several.
func TestKeyChoiceAllocs(t *testing.T) {
	for _, keys := range [][]string{{keyA}, {keyA, keyB, keyC}} {
		ring, err := newKeyRing(keys)
		if err != nil {
			t.Fatal(err)
		}
		h := &Handler{ring: ring}
		var req engine.Request
		at := attempt{Header: hdrStream}
		if n := testing.AllocsPerRun(100, func() { h.useKey(&req, &at, h.ring.pick(at.tried)) }); n != 0 {
			t.Fatalf("%d keys: %v allocs, want 0", len(keys), n)
		}
	}
}

func BenchmarkKeyChoice(b *testing.B) {
	ring, err := newKeyRing([]string{keyA, keyB, keyC})
	if err != nil {
		b.Fatal(err)
	}
	h := &Handler{ring: ring}
	var req engine.Request
	at := attempt{Header: hdrStream}
	b.ReportAllocs()
	for b.Loop() {
		h.useKey(&req, &at, h.ring.pick(at.tried))
	}
}
