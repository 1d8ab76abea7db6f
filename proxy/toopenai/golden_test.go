package toopenai

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/ccproxy/ccproxy/internal/jsonw"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// checkOutput asserts that out is valid JSON that the official OpenAI SDK
// accepts as a chat completion request.
func checkOutput(t *testing.T, out []byte) {
	t.Helper()
	if !json.Valid(out) {
		t.Fatalf("output is not valid JSON:\n%s", out)
	}
	var p openai.ChatCompletionNewParams
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("openai-go rejects output: %v\n%s", err, out)
	}
}

// TestGolden translates every real Claude Code fixture and compares the
// result with testdata/<fixture>.openai.json (regenerate with -update).
func TestGolden(t *testing.T) {
	models, err := NewModels(ModelsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fixtures(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out, info, err := Translate(nil, body, &Options{Models: models})
			var got bytes.Buffer
			if err != nil {
				// count_tokens bodies carry no max_tokens: pin the error.
				got.WriteString(`{"error": ` + string(jsonw.AppendString(nil, err.Error())) + "}\n")
			} else {
				checkOutput(t, out)
				if err := json.Indent(&got, out, "", "  "); err != nil {
					t.Fatal(err)
				}
				got.WriteByte('\n')
				if info.Model == "" || info.UpstreamModel == "" || info.InputTokensEstimate <= 0 {
					t.Errorf("info incomplete: %+v", info)
				}
			}
			golden := filepath.Join("testdata", name+".openai.json")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("output differs from %s (run with -update and review the diff)", golden)
			}
		})
	}
}
