//go:build !race

package toopenai

import (
	"strconv"
	"strings"
	"testing"
)

// TestAllocsManyTools: the duplicate-name check allocates nothing, with
// more tools than Claude Code sends (the list of names sent grows once in
// the pooled scratch, then is reused): Translate's one allocation stays
// Info.Model's.
func TestAllocsManyTools(t *testing.T) {
	models, err := NewModels(ModelsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	o := &Options{Models: models}
	var tools strings.Builder
	for i := range 150 {
		if i > 0 {
			tools.WriteByte(',')
		}
		tools.WriteString(custom("mcp__server__tool_" + strconv.Itoa(i)))
	}
	body := []byte(req("claude-sonnet-4-5", `[{"role":"user","content":"hi"}]`, `"tools":[`+tools.String()+`]`))
	dst := make([]byte, 0, 2*len(body))
	allocs := testing.AllocsPerRun(50, func() {
		if _, _, err := Translate(dst[:0], body, o); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("%.0f allocs per Translate with 150 tools; want <= 1", allocs)
	}
}
