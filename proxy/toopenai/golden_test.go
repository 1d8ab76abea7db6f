package toopenai

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccproxy/ccproxy/internal/jsonw"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// checkOutput asserts that out is valid JSON shaped as an OpenAI chat
// completion request: the roles, the message fields each role allows, tool
// calls with string arguments, function tools with names. (A local schema
// check: decoding into openai-go's params type accepted nearly anything and
// cost minutes of cold compile time in CI.)
func checkOutput(t *testing.T, out []byte) {
	t.Helper()
	if !json.Valid(out) {
		t.Fatalf("output is not valid JSON:\n%s", out)
	}
	var req struct {
		Model    *string `json:"model"`
		Messages []struct {
			Role       string          `json:"role"`
			Content    json.RawMessage `json:"content"`
			ToolCallID *string         `json:"tool_call_id"`
			ToolCalls  []struct {
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string  `json:"name"`
					Arguments *string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"messages"`
		Tools []struct {
			Type     string `json:"type"`
			Function struct {
				Name       string          `json:"name"`
				Parameters json.RawMessage `json:"parameters"`
			} `json:"function"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(out, &req); err != nil {
		t.Fatalf("not a chat completion request: %v\n%s", err, out)
	}
	if req.Model == nil || *req.Model == "" || len(req.Messages) == 0 {
		t.Fatalf("model or messages missing:\n%s", out)
	}
	for i, m := range req.Messages {
		switch m.Role {
		case "system", "developer", "user":
			if len(m.Content) == 0 || m.ToolCalls != nil {
				t.Fatalf("messages.%d (%s): content required, no tool_calls:\n%s", i, m.Role, out)
			}
		case "assistant":
			for j, c := range m.ToolCalls {
				if c.ID == "" || c.Type != "function" || c.Function.Name == "" || c.Function.Arguments == nil || !json.Valid([]byte(*c.Function.Arguments)) {
					t.Fatalf("messages.%d.tool_calls.%d malformed:\n%s", i, j, out)
				}
			}
		case "tool":
			if m.ToolCallID == nil || *m.ToolCallID == "" || len(m.Content) == 0 {
				t.Fatalf("messages.%d: tool message needs tool_call_id and content:\n%s", i, out)
			}
		default:
			t.Fatalf("messages.%d: role %q:\n%s", i, m.Role, out)
		}
	}
	for i, tl := range req.Tools {
		if tl.Type != "function" || tl.Function.Name == "" || len(tl.Function.Parameters) == 0 {
			t.Fatalf("tools.%d malformed:\n%s", i, out)
		}
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
