//go:build !race

package toopenai

import (
	"os"
	"strconv"
	"testing"
)

// TestLearnedLookupAllocs: looking a limit up, with learned limits
// present or not, allocates nothing, and Translate keeps its budget of one
// allocation when the model's limit was learned.
func TestLearnedLookupAllocs(t *testing.T) {
	m, err := NewModels(ModelsConfig{Big: "qwen3-coder"})
	if err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() { _ = m.MaxOutputTokens("qwen3-coder") }); a != 0 {
		t.Errorf("lookup with nothing learned: %.0f allocs", a)
	}
	for i := range 100 {
		m.LearnMaxOutputTokens("other-"+strconv.Itoa(i), 4096)
	}
	m.LearnMaxOutputTokens("qwen3-coder", 8192)
	if a := testing.AllocsPerRun(100, func() {
		if m.MaxOutputTokens("qwen3-coder") != 8192 {
			t.Fatal("learned limit not found")
		}
	}); a != 0 {
		t.Errorf("lookup of a learned limit: %.0f allocs", a)
	}
	body, err := os.ReadFile("../../testdata/cc-2.1.332-print-first-turn.json")
	if err != nil {
		t.Fatal(err)
	}
	o := &Options{Models: m}
	dst := make([]byte, 0, 2*len(body))
	if a := testing.AllocsPerRun(50, func() {
		if _, info, err := Translate(dst[:0], body, o); err != nil || info.MaxTokens != 8192 {
			t.Fatalf("MaxTokens %d, %v", info.MaxTokens, err)
		}
	}); a > 1 {
		t.Errorf("Translate with a learned limit: %.0f allocs; want <= 1", a)
	}
}
