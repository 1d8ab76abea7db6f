package toanthropic

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestToolNamesMapped: a tool call naming an alias in Config.ToolNames
// comes back under the client's name, streamed or not; other names pass
// unchanged.
func TestToolNamesMapped(t *testing.T) {
	alias, name := "mcp__kb_search_0123abcd", "mcp__"+strings.Repeat("knowledge-base-", 5)+"_search"
	cfg := Config{Model: "m", ToolNames: map[string]string{alias: name}}

	body := `{"choices":[{"message":{"tool_calls":[` +
		`{"id":"call_1","type":"function","function":{"name":"` + alias + `","arguments":"{}"}},` +
		`{"id":"call_2","type":"function","function":{"name":"Read","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`
	out, _, _, err := Message(nil, []byte(body), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Content []struct{ Name string } }
	if err := json.Unmarshal(out, &m); err != nil || len(m.Content) != 2 || m.Content[0].Name != name || m.Content[1].Name != "Read" {
		t.Fatalf("message %s (%v)", out, err)
	}

	s := NewStream(cfg)
	var all []byte
	for _, chunk := range []string{
		`{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"` + alias + `","arguments":""}}]}}]}`,
		`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}`,
		`{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"call_2","function":{"name":"Read","arguments":"{}"}}]}}]}`,
		`{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}`,
	} {
		if all, err = s.Event(all, []byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	all = s.Finish(all, nil)
	names := blockNames(t, all)
	if len(names) != 2 || names[0] != name || names[1] != "Read" {
		t.Fatalf("streamed tool names %q\n%s", names, all)
	}
}

// TestToolNamesEscapedOrOriginal: an upstream that writes the alias with a
// JSON escape (\u005f for '_') still names the alias, streamed as well as
// unary; an upstream answering with the client's own long name (not an
// alias) gets it passed unchanged. The client's name may hold any
// character: it comes back as valid JSON holding exactly that string.
func TestToolNamesEscapedOrOriginal(t *testing.T) {
	alias, name := "mcp__kb_search_0123abcd", "mcp__\"é\x01/"+strings.Repeat("k", 70)
	cfg := Config{Model: "m", ToolNames: map[string]string{alias: name}}
	escaped := strings.Replace(alias, "_", `\u005f`, 1)
	long := "mcp__" + strings.Repeat("x", 80)
	for _, c := range []struct{ upstream, want string }{
		{escaped, name},
		{alias, name},
		{long, long},
		{"Read", "Read"},
	} {
		body := `{"choices":[{"message":{"tool_calls":[{"id":"call_1","type":"function","function":{"name":"` + c.upstream + `","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`
		out, _, _, err := Message(nil, []byte(body), cfg)
		if err != nil {
			t.Fatal(err)
		}
		var m struct{ Content []struct{ Name string } }
		if err := json.Unmarshal(out, &m); err != nil || len(m.Content) != 1 || m.Content[0].Name != c.want {
			t.Errorf("unary %q: %s (%v), want %q", c.upstream, out, err, c.want)
		}

		s := NewStream(cfg)
		all, err := s.Event(nil, []byte(`{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"`+c.upstream+`","arguments":"{}"}}]}}]}`))
		if err != nil {
			t.Fatal(err)
		}
		all = s.Finish(all, nil)
		if got := blockNames(t, all); len(got) != 1 || got[0] != c.want {
			t.Errorf("stream %q: tool names %q, want %q\n%s", c.upstream, got, c.want, all)
		}
	}
}

// blockNames returns the names of the content blocks a stream's output
// starts, in order.
func blockNames(t *testing.T, out []byte) []string {
	t.Helper()
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || !strings.Contains(data, `"content_block_start"`) {
			continue
		}
		var ev struct {
			ContentBlock struct{ Name string } `json:"content_block"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("%v: %s", err, data)
		}
		names = append(names, ev.ContentBlock.Name)
	}
	return names
}
