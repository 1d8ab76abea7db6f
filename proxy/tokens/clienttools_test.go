package tokens

import (
	"testing"

	"github.com/ccproxy/ccproxy/proxy/toopenai"
)

// TestCountClientTools: an Anthropic-defined client tool is sent upstream
// as a function with Anthropic's full description and schema (see
// toopenai.ClientTool), so count_tokens counts those, not the few tokens of
// its definition: a body with text_editor_20250728 counts more than the
// same body without it by about the schema's size.
func TestCountClientTools(t *testing.T) {
	desc, params, ok := toopenai.ClientTool("text_editor_20250728")
	if !ok {
		t.Fatal("no text_editor_20250728")
	}
	c := NewCounter(0)
	custom := map[string]any{"name": "Read", "description": "Read a file.", "input_schema": map[string]any{"type": "object"}}
	editor := map[string]any{"type": "text_editor_20250728", "name": "str_replace_based_edit_tool", "max_characters": 10000}
	without := mustCount(t, c, req([]any{user("hello world")}, "tools", []any{custom}), "gpt-5")
	with := mustCount(t, c, req([]any{user("hello world")}, "tools", []any{custom, editor}), "gpt-5")
	sent := ref(t, o200k, "str_replace_based_edit_tool") + ref(t, o200k, desc) + ref(t, o200k, params)
	if got, want := with-without, perToolTokensO200k+sent; got != want {
		t.Errorf("text_editor_20250728 adds %d tokens, want %d (its name, description and schema: %d)", got, want, sent)
	}
	if sent < 300 {
		t.Errorf("the schema sent is only %d tokens", sent)
	}

	// The computer tool's description gets the display size upstream; its
	// definition's JSON (which holds it) is counted on top.
	computer := map[string]any{"type": "computer_20250124", "name": "computer", "display_width_px": 1280, "display_height_px": 800}
	withComputer := mustCount(t, c, req([]any{user("hello world")}, "tools", []any{custom, computer}), "gpt-5")
	cdesc, cparams, _ := toopenai.ClientTool("computer_20250124")
	if min := perToolTokensO200k + ref(t, o200k, "computer") + ref(t, o200k, cdesc) + ref(t, o200k, cparams); withComputer-without < min {
		t.Errorf("computer_20250124 adds %d tokens, want at least %d", withComputer-without, min)
	}

	// Server tools and unknown types still count their definition's JSON.
	server := map[string]any{"type": "web_search_20250305", "name": "web_search"}
	withServer := mustCount(t, c, req([]any{user("hello world")}, "tools", []any{custom, server}), "gpt-5")
	if d := withServer - without; d <= perToolTokensO200k || d > 40 {
		t.Errorf("web_search adds %d tokens", d)
	}
}
