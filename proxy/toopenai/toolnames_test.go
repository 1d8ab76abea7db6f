package toopenai

import (
	"regexp"
	"strings"
	"testing"
)

var openAIName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func TestToolAlias(t *testing.T) {
	long := "mcp__" + strings.Repeat("server-", 9) + "_search"
	cases := []struct{ name, prefix string }{
		{long, long[:55]},
		{strings.Repeat("a", 65), strings.Repeat("a", 55)},
		{"mcp__\u00e9t\u00e9." + strings.Repeat("x", 70), "mcp____t___" + strings.Repeat("x", 44)}, // é is two bytes, each becomes '_'
	}
	for _, c := range cases {
		a := toolAlias(c.name)
		if len(a) != maxToolName || !openAIName.MatchString(a) || !strings.HasPrefix(a, c.prefix+"_") {
			t.Errorf("toolAlias(%q) = %q", c.name, a)
		}
		if toolAlias(c.name) != a {
			t.Errorf("toolAlias(%q) is not deterministic", c.name)
		}
	}
	if toolAlias(long+"x") == toolAlias(long+"y") {
		t.Error("names that differ after 55 bytes share an alias")
	}
}

// TestToolNamesTranslate: short names go upstream byte for byte (and Info
// maps nothing); a long one, also when written with JSON escapes, goes as
// its alias wherever it appears, and Info maps the alias back.
func TestToolNamesTranslate(t *testing.T) {
	long := "mcp__" + strings.Repeat("k", 70)
	escaped := `mcp__\u006b` + strings.Repeat("k", 69) // the same name, one letter escaped
	def := func(n string) string {
		return `{"name":"` + n + `","input_schema":{"type":"object"}}`
	}
	m, info := translateJSON(t, req("claude-sonnet-4-5", `[{"role":"user","content":"hi"}]`,
		`"tools":[`+def("Read")+`,`+def("Bash")+`]`), nil)
	if info.ToolNames != nil || m["tools"].([]any)[0].(map[string]any)["function"].(map[string]any)["name"] != "Read" {
		t.Fatalf("short names: %v, ToolNames %v", m["tools"], info.ToolNames)
	}

	msgs := `[{"role":"user","content":"hi"},` +
		`{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"` + escaped + `","input":{}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}]`
	m, info = translateJSON(t, req("claude-sonnet-4-5", msgs,
		`"tools":[`+def(escaped)+`,`+def("Read")+`],"tool_choice":{"type":"tool","name":"`+long+`"}`), nil)
	alias := toolAlias(long)
	if len(info.ToolNames) != 1 || info.ToolNames[alias] != long {
		t.Fatalf("ToolNames %v, want %s → %s", info.ToolNames, alias, long)
	}
	fn := func(v any) string { return v.(map[string]any)["function"].(map[string]any)["name"].(string) }
	tools := m["tools"].([]any)
	if fn(tools[0]) != alias || fn(tools[1]) != "Read" {
		t.Fatalf("tools %v", tools)
	}
	if fn(m["tool_choice"]) != alias {
		t.Fatalf("tool_choice %v", m["tool_choice"])
	}
	call := m["messages"].([]any)[1].(map[string]any)["tool_calls"].([]any)[0]
	if fn(call) != alias {
		t.Fatalf("earlier tool call %v", call)
	}
}

// TestToolNamesHistoryOnly: a long name that only earlier tool calls carry
// (its tool is no longer offered: an MCP server went away mid-session) goes
// upstream as its alias too, and Info maps that alias back, so a model
// repeating the call names the client's tool rather than one the client
// never defined.
func TestToolNamesHistoryOnly(t *testing.T) {
	long := "mcp__gone-server__" + strings.Repeat("q", 60)
	msgs := `[{"role":"user","content":"hi"},` +
		`{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"` + long + `","input":{}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}]`
	for _, extra := range []string{`"tools":[{"name":"Read","input_schema":{"type":"object"}}]`, ""} {
		m, info := translateJSON(t, req("claude-sonnet-4-5", msgs, extra), nil)
		call := m["messages"].([]any)[1].(map[string]any)["tool_calls"].([]any)[0]
		alias := call.(map[string]any)["function"].(map[string]any)["name"].(string)
		if alias != toolAlias(long) {
			t.Fatalf("earlier tool call named %q upstream", alias)
		}
		if len(info.ToolNames) != 1 || info.ToolNames[alias] != long {
			t.Errorf("tools %s: ToolNames %v, want %s → %s", extra, info.ToolNames, alias, long)
		}
	}
}

// TestToolNamesEscapes: one long name written with different JSON escapes
// in the tool list, an earlier tool call and tool_choice gets one alias
// everywhere (a valid OpenAI name, even from quotes, NUL, '/' or non-ASCII),
// and Info maps it back to the decoded name.
func TestToolNamesEscapes(t *testing.T) {
	pad := strings.Repeat("k", 70)
	cases := []struct{ tools, hist, choice, want string }{
		{`mcp__a\/b` + pad, `mcp__a/b` + pad, `mcp__\u0061/b` + pad, "mcp__a/b" + pad},
		{`mcp__\u0000x` + pad, `mcp__\u0000x` + pad, `mcp__\u0000x` + pad, "mcp__\x00x" + pad},
		{`mcp__\"q` + pad, `mcp__\u0022q` + pad, `mcp__\"q` + pad, "mcp__\"q" + pad},
		{"mcp__é" + pad, `mcp__\u00e9` + pad, "mcp__é" + pad, "mcp__é" + pad},
		{`mcp__\ud83d\ude00` + pad, "mcp__😀" + pad, "mcp__😀" + pad, "mcp__😀" + pad},
	}
	fn := func(v any) string { return v.(map[string]any)["function"].(map[string]any)["name"].(string) }
	for _, c := range cases {
		def := `{"name":"` + c.tools + `","input_schema":{"type":"object"}}`
		msgs := `[{"role":"user","content":"hi"},` +
			`{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"` + c.hist + `","input":{}}]},` +
			`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}]`
		m, info := translateJSON(t, req("claude-sonnet-4-5", msgs, `"tools":[`+def+`],"tool_choice":{"type":"tool","name":"`+c.choice+`"}`), nil)
		a := fn(m["tools"].([]any)[0])
		hist := fn(m["messages"].([]any)[1].(map[string]any)["tool_calls"].([]any)[0])
		if !openAIName.MatchString(a) || fn(m["tool_choice"]) != a || hist != a {
			t.Errorf("%q: tools %q, tool_choice %q, earlier call %q", c.want, a, fn(m["tool_choice"]), hist)
		}
		if len(info.ToolNames) != 1 || info.ToolNames[a] != c.want {
			t.Errorf("%q: ToolNames %q", c.want, info.ToolNames)
		}
	}
}
