//go:build !race

package toopenai

import (
	"os"
	"testing"
)

// TestAllocs proves the per-request allocation budget: one allocation (the
// Info.Model string) when dst has room, whatever the body size.
func TestAllocs(t *testing.T) {
	models, err := NewModels(ModelsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	o := &Options{Models: models}
	for _, name := range []string{"cc-2.1.332-print-first-turn.json", "cc-2.1.332-print-tool-result-turn.json", "cc-2.1.332-classic-thinking-budget.json"} {
		body, err := os.ReadFile("../../testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]byte, 0, 2*len(body))
		allocs := testing.AllocsPerRun(50, func() {
			if _, _, err := Translate(dst[:0], body, o); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 1 {
			t.Errorf("%s: %.0f allocs per Translate; want <= 1", name, allocs)
		}
	}
}
