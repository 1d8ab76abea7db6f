package toopenai

import (
	"os"
	"testing"
)

func TestSmoke(t *testing.T) {
	m, _ := NewModels(ModelsConfig{})
	for _, f := range []string{"cc-2.1.332-print-tool-result-turn.json"} {
		b, _ := os.ReadFile("../../testdata/" + f)
		out, info, err := Translate(nil, b, &Options{Models: m})
		t.Logf("%+v %v", info, err)
		os.WriteFile("/tmp/tt/out.json", out, 0o644)
	}
}
