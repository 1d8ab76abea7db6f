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
	var names []string
	for _, line := range strings.Split(string(all), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || !strings.Contains(data, `"content_block_start"`) {
			continue
		}
		var ev struct {
			ContentBlock struct{ Name string } `json:"content_block"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatal(err)
		}
		names = append(names, ev.ContentBlock.Name)
	}
	if len(names) != 2 || names[0] != name || names[1] != "Read" {
		t.Fatalf("streamed tool names %q\n%s", names, all)
	}
}
