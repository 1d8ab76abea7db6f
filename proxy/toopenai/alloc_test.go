//go:build !race

package toopenai

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/rs/zerolog"
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

// TestAllocsWithLogger: with a logger at debug level (as the proxy has) and
// Claude Code's tools (custom, no server tool), Translate still allocates
// only Info.Model: reporting dropped server tools costs nothing when there
// are none. With one, the report is its only extra allocations (the slice
// and the two strings).
func TestAllocsWithLogger(t *testing.T) {
	models, err := NewModels(ModelsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	o := &Options{Models: models, Logger: zerolog.New(io.Discard).Level(zerolog.DebugLevel)}
	body, err := os.ReadFile("../../testdata/cc-2.1.332-print-first-turn.json")
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 0, 2*len(body))
	allocs := testing.AllocsPerRun(50, func() {
		if _, info, err := Translate(dst[:0], body, o); err != nil || info.DroppedTools != nil {
			t.Fatal(err, info.DroppedTools)
		}
	})
	if allocs > 1 {
		t.Errorf("%.0f allocs per Translate; want <= 1", allocs)
	}

	withServer := bytes.Replace(body, []byte(`"tools": [`), []byte(`"tools": [{"type":"web_search_20250305","name":"web_search"},`), 1)
	allocs = testing.AllocsPerRun(50, func() {
		if _, info, err := Translate(dst[:0], withServer, o); err != nil || len(info.DroppedTools) != 1 {
			t.Fatal(err, info.DroppedTools)
		}
	})
	if allocs > 4 {
		t.Errorf("with a server tool: %.0f allocs per Translate; want <= 4", allocs)
	}
}
