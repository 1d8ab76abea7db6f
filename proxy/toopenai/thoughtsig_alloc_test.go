//go:build !race

package toopenai

import (
	"strings"
	"testing"
)

// TestThoughtSignatureAllocs: splitting ids and writing the signatures back
// costs no allocation: Translate of a history with a signed call (a long
// signature, decoded in several runs) stays within the one-allocation
// budget of TestAllocs.
func TestThoughtSignatureAllocs(t *testing.T) {
	models, err := NewModels(ModelsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	o := &Options{Models: models}
	body := []byte(req("gpt-4o", thoughtSigHistory(sigID("function-call-1", strings.Repeat("CiQBjz1rX+/", 300)), "function-call-2"), ""))
	dst := make([]byte, 0, 4*len(body))
	allocs := testing.AllocsPerRun(50, func() {
		if _, _, err := Translate(dst[:0], body, o); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("%.0f allocs per Translate; want <= 1", allocs)
	}
}
