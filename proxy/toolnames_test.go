package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
)

// openAIToolName is the pattern OpenAI checks function names against.
var openAIToolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// TestLongToolNames: Anthropic accepts tool names of up to 128 characters
// and Claude Code's MCP tools (mcp__<server>__<tool>) reach past OpenAI's
// 64, which the fake upstream enforces as OpenAI does (a 400 for the whole
// request). ccproxy sends such names shortened, the same way in the tool
// list, tool_choice and the conversation's earlier tool calls, and gives the
// client its own name back in the tool call it answers with, streamed or
// not.
func TestLongToolNames(t *testing.T) {
	long := "mcp__company-internal-knowledge-base-production__search_documents_by_semantic_similarity"
	twin := "mcp__company-internal-knowledge-base-production__search_documents_by_exact_title_match"
	if len(long) <= 64 || len(twin) <= 64 || long[:55] != twin[:55] {
		t.Fatal("the names must pass 64 characters and share their first 55")
	}
	tool := func(name string) string {
		return `{"name":"` + name + `","description":"d","input_schema":{"type":"object","properties":{"query":{"type":"string"}}}}`
	}
	body := func(stream bool, choice string) []byte {
		return []byte(`{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":` + map[bool]string{true: "true", false: "false"}[stream] +
			`,"tools":[` + tool(long) + `,` + tool(twin) + `,` + tool("Read") + `]` + choice +
			`,"messages":[{"role":"user","content":"find the design doc"},` +
			`{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"` + long + `","input":{"query":"design"}}]},` +
			`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"nothing"}]},` +
			`{"role":"assistant","content":"Nothing found."},` +
			`{"role":"user","content":"try again"}]}`)
	}
	for _, eng := range engines() {
		for _, stream := range []bool{true, false} {
			name := eng + map[bool]string{true: "/stream", false: "/unary"}[stream]
			t.Run(name, func(t *testing.T) {
				r := newRig(t, eng, fakeupstream.Options{}, nil)
				resp := post(t, r.URL, "/v1/messages", body(stream, `,"tool_choice":{"type":"tool","name":"`+long+`"}`), nil)
				defer resp.Body.Close()
				if resp.StatusCode != 200 {
					b, _ := io.ReadAll(resp.Body)
					t.Fatalf("status %d: %s", resp.StatusCode, b)
				}
				var called string
				if stream {
					for _, d := range checkGrammar(t, readEvents(t, resp.Body)) {
						if cb, ok := d["content_block"].(map[string]any); ok && cb["type"] == "tool_use" {
							called, _ = cb["name"].(string)
						}
					}
				} else {
					var m struct {
						Content []struct{ Type, Name string }
					}
					if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
						t.Fatal(err)
					}
					for _, c := range m.Content {
						if c.Type == "tool_use" {
							called = c.Name
						}
					}
				}
				if called != long {
					t.Fatalf("tool_use name %q, want the client's %q", called, long)
				}

				var up struct {
					Tools []struct {
						Function struct{ Name string }
					}
					ToolChoice struct {
						Function struct{ Name string }
					} `json:"tool_choice"`
					Messages []struct {
						ToolCalls []struct {
							Function struct{ Name string }
						} `json:"tool_calls"`
					}
				}
				if err := json.Unmarshal(r.Up.LastRequest().Body, &up); err != nil {
					t.Fatal(err)
				}
				if len(up.Tools) != 3 {
					t.Fatalf("%d tools upstream", len(up.Tools))
				}
				alias, twinAlias := up.Tools[0].Function.Name, up.Tools[1].Function.Name
				for _, n := range []string{alias, twinAlias} {
					if !openAIToolName.MatchString(n) || !strings.HasPrefix(n, long[:40]) {
						t.Fatalf("upstream name %q: not a valid OpenAI name keeping the original's start", n)
					}
				}
				if alias == twinAlias || up.Tools[2].Function.Name != "Read" {
					t.Fatalf("upstream names %q %q %q", alias, twinAlias, up.Tools[2].Function.Name)
				}
				if up.ToolChoice.Function.Name != alias {
					t.Fatalf("tool_choice names %q, the tool went as %q", up.ToolChoice.Function.Name, alias)
				}
				var history string
				for _, m := range up.Messages {
					for _, c := range m.ToolCalls {
						history = c.Function.Name
					}
				}
				if history != alias {
					t.Fatalf("the earlier tool call names %q, the tool went as %q", history, alias)
				}
			})
		}
	}
	// The alias is the same in every request: a later turn of the same
	// conversation names the tool as the first did.
	r := newRig(t, engines()[0], fakeupstream.Options{}, nil)
	var seen []string
	for range 2 {
		resp := post(t, r.URL, "/v1/messages", body(false, ""), nil)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		var up struct {
			Tools []struct{ Function struct{ Name string } }
		}
		if err := json.Unmarshal(r.Up.LastRequest().Body, &up); err != nil {
			t.Fatal(err)
		}
		seen = append(seen, up.Tools[0].Function.Name)
	}
	if seen[0] != seen[1] {
		t.Fatalf("aliases differ between requests: %q", seen)
	}
}

// TestHistoryToolAliasCalled: a long-named tool that only the
// conversation's earlier tool calls carry (it is no longer in tools) goes
// upstream as its alias; an upstream calling that alias, and writing it with
// a JSON escape, streams back a tool_use under the client's name.
func TestHistoryToolAliasCalled(t *testing.T) {
	long := "mcp__gone-server__" + strings.Repeat("q", 60)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages []struct {
				ToolCalls []struct {
					Function struct{ Name string }
				} `json:"tool_calls"`
			}
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) < 2 || len(req.Messages[1].ToolCalls) != 1 {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		alias := req.Messages[1].ToolCalls[0].Function.Name
		if !openAIToolName.MatchString(alias) {
			http.Error(w, "bad name "+alias, http.StatusBadRequest)
			return
		}
		escaped := strings.Replace(alias, "_", `\u005f`, 1)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"`+escaped+`","arguments":"{}"}}]}}]}`+"\n\n"+
			`data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`+"\n\n"+
			"data: [DONE]\n\n")
	}))
	defer up.Close()
	body := []byte(`{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,` +
		`"tools":[{"name":"Read","input_schema":{"type":"object"}}],` +
		`"messages":[{"role":"user","content":"search"},` +
		`{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"` + long + `","input":{}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"nothing"}]}]}`)
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRigFor(t, eng, up.URL, nil, nil)
			resp := post(t, r.URL, "/v1/messages", body, nil)
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			var called []string
			for _, d := range checkGrammar(t, readEvents(t, resp.Body)) {
				if cb, ok := d["content_block"].(map[string]any); ok && cb["type"] == "tool_use" {
					name, _ := cb["name"].(string)
					called = append(called, name)
				}
			}
			if len(called) != 1 || called[0] != long {
				t.Fatalf("tool_use names %q, want the client's %q", called, long)
			}
		})
	}
}
