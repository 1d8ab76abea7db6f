package toopenai

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// requestErr translates body into a non-empty dst and returns the
// RequestError it must fail with; dst must come back unchanged.
func requestErr(t *testing.T, body string) *RequestError {
	t.Helper()
	m, err := NewModels(ModelsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := Translate([]byte("keep"), []byte(body), &Options{Models: m})
	var re *RequestError
	if !errors.As(err, &re) {
		t.Fatalf("err %v, out %s", err, out)
	}
	if string(out) != "keep" {
		t.Errorf("dst changed: %q", out)
	}
	return re
}

func custom(name string) string {
	return `{"name":"` + name + `","input_schema":{"type":"object"}}`
}

// TestDuplicateToolNames: two tools sent upstream under one client name
// are refused as Anthropic refuses them ("tools: Tool names must be
// unique."), naming the name and both indexes: custom tools, a client tool
// beside a custom tool of its name, two client tools, a name written with
// JSON escapes, and long names (which would share an alias).
func TestDuplicateToolNames(t *testing.T) {
	long := "mcp__" + strings.Repeat("k", 70)
	tests := []struct{ name, tools, dup, at string }{
		{"custom", `[` + custom("Read") + `,` + custom("Bash") + `,` + custom("Read") + `]`, "Read", "tools.0 and tools.2"},
		{"escaped", `[` + custom("Grep") + `,` + custom("Read") + `,` + custom(`Re\u0061d`) + `]`, "Read", "tools.1 and tools.2"},
		{"text editor and custom", `[{"type":"text_editor_20250728","name":"str_replace_based_edit_tool"},` + custom("str_replace_based_edit_tool") + `]`,
			"str_replace_based_edit_tool", "tools.0 and tools.1"},
		{"custom and text editor", `[` + custom("str_replace_based_edit_tool") + `,{"type":"text_editor_20250728","name":"str_replace_based_edit_tool"}]`,
			"str_replace_based_edit_tool", "tools.0 and tools.1"},
		{"two client tools", `[{"type":"bash_20250124","name":"bash"},{"type":"bash_20241022","name":"bash"}]`, "bash", "tools.0 and tools.1"},
		{"after a dropped server tool", `[{"type":"web_search_20250305","name":"web_search"},` + custom("Read") + `,` + custom("Read") + `]`,
			"Read", "tools.1 and tools.2"},
		{"long", `[` + custom(long) + `,` + custom(`mcp__\u006b`+strings.Repeat("k", 69)) + `]`, long, "tools.0 and tools.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			re := requestErr(t, req("claude-sonnet-4-5", `[{"role":"user","content":"hi"}]`, `"tools":`+tc.tools))
			want := `tools: Tool names must be unique. ` + tc.at + ` are both named "` + tc.dup + `".`
			if re.Error() != want {
				t.Errorf("error %q\nwant  %q", re.Error(), want)
			}
		})
	}
}

// TestToolNamesNotDuplicates: names that differ (in case, or after 55
// bytes of a long name) go upstream, and a server tool, which is dropped,
// may share a name with a tool that is sent: tool_choice naming it names
// the sent one, wherever the server tool is.
func TestToolNamesNotDuplicates(t *testing.T) {
	long := "mcp__" + strings.Repeat("k", 55)
	out, info, err := translateTools(t, `[`+custom("Read")+`,`+custom("read")+`,`+custom(long+"_alpha")+`,`+custom(long+"_beta")+`]`, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	names := strs(gjson.GetBytes(out, "tools.#.function.name"))
	if len(names) != 4 || names[2] == names[3] || info.ToolNames[names[2]] != long+"_alpha" || info.ToolNames[names[3]] != long+"_beta" {
		t.Errorf("tools %v, ToolNames %v", names, info.ToolNames)
	}

	for _, tools := range []string{
		`[{"type":"web_search_20250305","name":"web_search"},` + custom("web_search") + `]`,
		`[` + custom("web_search") + `,{"type":"web_search_20250305","name":"web_search"}]`,
	} {
		out, info, err := translateTools(t, tools, `"tool_choice":{"type":"tool","name":"web_search"}`, nil)
		if err != nil {
			t.Fatalf("%s: %v", tools, err)
		}
		if n := strs(gjson.GetBytes(out, "tools.#.function.name")); len(n) != 1 || n[0] != "web_search" ||
			gjson.GetBytes(out, "tool_choice.function.name").Str != "web_search" || len(info.DroppedTools) != 1 {
			t.Errorf("%s: upstream %s, dropped %v", tools, out, info.DroppedTools)
		}
	}
}

// aliasTwins are two names longer than 64 bytes that share their first 55
// bytes and the first 32 bits of their SHA-256, hence their alias (found
// by a birthday search).
var aliasTwins = [2]string{
	"mcp__" + strings.Repeat("x", 50) + "_tool00001288",
	"mcp__" + strings.Repeat("x", 50) + "_tool00088404",
}

// TestToolAliasCollisions: two different tools that would reach the
// upstream under one name are refused, as the upstream could not tell them
// apart and their calls could not be mapped back: two long names sharing an
// alias (in tools, or in earlier tool calls), and a tool named exactly as
// the alias of a longer name (a tool's, in either order, or an earlier
// call's).
func TestToolAliasCollisions(t *testing.T) {
	a, b := aliasTwins[0], aliasTwins[1]
	alias := toolAlias(a)
	if toolAlias(b) != alias || a == b {
		t.Fatalf("aliasTwins are not twins: %s %s", toolAlias(a), toolAlias(b))
	}
	hi := `[{"role":"user","content":"hi"}]`
	history := func(names ...string) string {
		var s strings.Builder
		s.WriteString(`[{"role":"user","content":"hi"},{"role":"assistant","content":[`)
		for i, n := range names {
			if i > 0 {
				s.WriteByte(',')
			}
			s.WriteString(`{"type":"tool_use","id":"t` + string(rune('0'+i)) + `","name":"` + n + `","input":{}}`)
		}
		s.WriteString(`]},{"role":"user","content":[`)
		for i := range names {
			if i > 0 {
				s.WriteByte(',')
			}
			s.WriteString(`{"type":"tool_result","tool_use_id":"t` + string(rune('0'+i)) + `","content":"ok"}`)
		}
		s.WriteString(`]}]`)
		return s.String()
	}
	tests := []struct{ name, msgs, tools, field string }{
		{"two long tools", hi, `[` + custom(a) + `,` + custom(b) + `]`, "tools"},
		{"long tool and earlier call", history(a), `[` + custom(b) + `]`, "tools"},
		{"two earlier calls", history(a, b), ``, "messages"},
		{"alias-named tool after", hi, `[` + custom(a) + `,` + custom("Read") + `,` + custom(alias) + `]`, "tools.2.name"},
		{"alias-named tool before", hi, `[` + custom(alias) + `,` + custom(a) + `]`, "tools.0.name"},
		{"alias-named tool, long earlier call", history(a), `[` + custom(alias) + `]`, "tools.0.name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			extra := ""
			if tc.tools != "" {
				extra = `"tools":` + tc.tools
			}
			re := requestErr(t, req("claude-sonnet-4-5", tc.msgs, extra))
			if re.Field != tc.field || !strings.Contains(re.Message, `"`+a+`"`) || !strings.Contains(re.Message, `"`+alias+`"`) ||
				!strings.Contains(re.Message, "64 characters") || !strings.Contains(re.Message, "rename one") {
				t.Errorf("error %q", re.Error())
			}
			if strings.HasPrefix(tc.field, "tools.") == strings.Contains(re.Message, `"`+b+`"`) {
				t.Errorf("error %q: names the wrong tools", re.Error())
			}
		})
	}
}

// TestDuplicateToolNamesMany: with more tools than checkUnique compares
// pairwise, duplicates are still found through its hash table, wherever
// they are (the first tool, one just past the pairwise ones, one after the
// table was rebuilt), written with escapes or not, and a request without
// one goes through whole; a scratch reused after a large request starts
// afresh.
func TestDuplicateToolNamesMany(t *testing.T) {
	m, err := NewModels(ModelsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	o := &Options{Models: m}
	tools := func(n int, extra ...string) string {
		var b strings.Builder
		b.WriteByte('[')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(custom("tool_" + strconv.Itoa(i)))
		}
		for _, e := range extra {
			b.WriteString("," + custom(e))
		}
		b.WriteByte(']')
		return b.String()
	}
	hi := `[{"role":"user","content":"hi"}]`
	for _, n := range []int{pairwiseNames - 1, pairwiseNames, pairwiseNames + 1, 200, 3000} {
		out, _, err := Translate(nil, []byte(req("claude-sonnet-4-5", hi, `"tools":`+tools(n))), o)
		if err != nil {
			t.Fatalf("%d distinct tools: %v", n, err)
		}
		if got := len(gjson.GetBytes(out, "tools").Array()); got != n {
			t.Fatalf("%d distinct tools: %d sent", n, got)
		}
		for _, k := range []int{0, pairwiseNames, n / 2, n - 1} {
			if k >= n {
				continue
			}
			for _, dup := range []string{"tool_" + strconv.Itoa(k), `tool\u005f` + strconv.Itoa(k)} {
				_, _, err := Translate(nil, []byte(req("claude-sonnet-4-5", hi, `"tools":`+tools(n, "other", dup))), o)
				want := "tools: Tool names must be unique. tools." + strconv.Itoa(k) + " and tools." + strconv.Itoa(n+1) +
					` are both named "tool_` + strconv.Itoa(k) + `".`
				if err == nil || err.Error() != want {
					t.Fatalf("%d tools, %s again: err %v\nwant %s", n, dup, err, want)
				}
			}
		}
	}
}

// BenchmarkTranslateManyTools measures Translate on a request of n tools,
// whose names checkUnique compares pairwise up to pairwiseNames, then
// through a hash table: time grows with n, not n² (measured: 20,000 tools
// took 101 ms with every name compared to every earlier one, 8.5 ms with
// the table).
func BenchmarkTranslateManyTools(b *testing.B) {
	models, err := NewModels(ModelsConfig{})
	if err != nil {
		b.Fatal(err)
	}
	o := &Options{Models: models}
	for _, n := range []int{12, 150, 20000} {
		var tools strings.Builder
		for i := range n {
			if i > 0 {
				tools.WriteByte(',')
			}
			tools.WriteString(custom("mcp__server__tool_" + strconv.Itoa(i)))
		}
		body := []byte(req("claude-sonnet-4-5", `[{"role":"user","content":"hi"}]`, `"tools":[`+tools.String()+`]`))
		benchTranslate(b, strconv.Itoa(n), body, o)
	}
}
