package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/tidwall/gjson"
)

// editorArgs are the arguments the upstream model gives the text editor.
const editorArgs = `{"command":"str_replace","path":"/repo/main.go","old_str":"fmt.Println(\"hi\")","new_str":"fmt.Println(\"hello\")"}`

// editorUpstream answers every chat completion with a streamed call of the
// text editor tool with editorArgs, split over two chunks as upstreams do.
func editorUpstream(t *testing.T) (*overflowUpstream, string) {
	return newOverflowUpstream(t, func(_ int, _ []byte, w http.ResponseWriter) {
		half := len(editorArgs) / 2
		first, _ := json.Marshal(editorArgs[:half])
		rest, _ := json.Marshal(editorArgs[half:])
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, sseBody(
			chunkJSON(`{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"str_replace_based_edit_tool","arguments":""}}]}`, "null"),
			chunkJSON(`{"tool_calls":[{"index":0,"function":{"arguments":`+string(first)+`}}]}`, "null"),
			chunkJSON(`{"tool_calls":[{"index":0,"function":{"arguments":`+string(rest)+`}}]}`, `"tool_calls"`),
			`{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":900,"completion_tokens":40}}`,
			"[DONE]"))
	})
}

// TestTextEditorToolEndToEnd: Anthropic's Go SDK sends its typed
// text_editor_20250728 tool (no input_schema) through ccproxy; the upstream
// gets a function str_replace_based_edit_tool with Anthropic's schema (it
// got no tool at all before), and its call streams back as a tool_use of
// that name whose input is the upstream's arguments, with both engines.
func TestTextEditorToolEndToEnd(t *testing.T) {
	up, url := editorUpstream(t)
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRigFor(t, eng, url, quietLog, nil)
			client := anthropic.NewClient(option.WithBaseURL(r.URL), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
			before := len(up.requests())
			stream := client.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{
				Model:     "claude-sonnet-4-5",
				MaxTokens: 1024,
				Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("say hello instead of hi in main.go"))},
				Tools: []anthropic.ToolUnionParam{{OfTextEditor20250728: &anthropic.ToolTextEditor20250728Param{
					MaxCharacters: anthropic.Int(10000)}}},
				ToolChoice: anthropic.ToolChoiceParamOfTool("str_replace_based_edit_tool"),
			})
			defer stream.Close()
			msg := accumulate(t, stream)

			reqs := up.requests()[before:]
			if len(reqs) != 1 {
				t.Fatalf("%d upstream requests", len(reqs))
			}
			fn := gjson.GetBytes(reqs[0], "tools.0.function")
			var cmds []string
			for _, c := range fn.Get("parameters.properties.command.enum").Array() {
				cmds = append(cmds, c.Str)
			}
			if n := len(gjson.GetBytes(reqs[0], "tools").Array()); n != 1 || fn.Get("name").Str != "str_replace_based_edit_tool" ||
				!slices.Equal(cmds, []string{"view", "create", "str_replace", "insert"}) ||
				fn.Get("parameters.required").Raw != `["command","path"]` || fn.Get("parameters.properties.max_characters").Exists() {
				t.Fatalf("upstream tools %s", gjson.GetBytes(reqs[0], "tools").Raw)
			}
			if got := gjson.GetBytes(reqs[0], "tool_choice").Raw; got != `{"type":"function","function":{"name":"str_replace_based_edit_tool"}}` {
				t.Fatalf("upstream tool_choice %s", got)
			}

			if msg.StopReason != anthropic.StopReasonToolUse || len(msg.Content) != 1 {
				t.Fatalf("stop %q, content %+v", msg.StopReason, msg.Content)
			}
			b := msg.Content[0]
			var got, want map[string]any
			if err := json.Unmarshal(b.Input, &got); err != nil {
				t.Fatal(err)
			}
			json.Unmarshal([]byte(editorArgs), &want)
			if b.Type != "tool_use" || b.Name != "str_replace_based_edit_tool" || !equalJSON(got, want) {
				t.Fatalf("block %s %q input %s", b.Type, b.Name, b.Input)
			}
		})
	}
}

// equalJSON compares two decoded JSON objects.
func equalJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestServerToolOnlyRefused: a request whose only tool is web_search (what
// Claude Code's WebSearch sends) is answered 400 invalid_request_error in
// Anthropic's envelope, naming the tool and its type and saying only
// Anthropic's API runs it; the upstream is never called. The official
// SDK reads it as a 400 too.
func TestServerToolOnlyRefused(t *testing.T) {
	up, url := editorUpstream(t)
	r := newRigFor(t, "nethttp", url, quietLog, nil)
	body := `{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"news today?"}],` +
		`"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":8}]}`
	resp := post(t, r.URL, "/v1/messages", []byte(body), nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	typ, msg := errorBody(t, resp)
	if typ != errInvalidRequest || !strings.Contains(msg, `"web_search"`) || !strings.Contains(msg, `"web_search_20250305"`) ||
		!strings.Contains(msg, "runs only on Anthropic's API") {
		t.Fatalf("error %s: %s", typ, msg)
	}

	client := anthropic.NewClient(option.WithBaseURL(r.URL), option.WithAPIKey("k"), option.WithMaxRetries(0))
	_, err := client.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model: "claude-sonnet-4-5", MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("news?"))},
		Tools:    []anthropic.ToolUnionParam{{OfWebSearchTool20250305: &anthropic.WebSearchTool20250305Param{}}},
	})
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(apiErr.Error(), "web_search") {
		t.Fatalf("SDK error %v", err)
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("the upstream was called %d times", n)
	}
}

// TestServerToolDroppedBesideOthers: a custom tool beside web_search goes
// upstream alone, the answer streams as usual, and the dropped tool is
// logged at warn with its name and type and the request's id.
func TestServerToolDroppedBesideOthers(t *testing.T) {
	up, url := newOverflowUpstream(t, func(_ int, body []byte, w http.ResponseWriter) { writeAnswer(w, body) })
	r := newRigFor(t, "nethttp", url, nil, nil)
	body := `{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"hi"}],` +
		`"tools":[{"type":"web_search_20250305","name":"web_search"},{"name":"Read","description":"read a file","input_schema":{"type":"object","properties":{"path":{"type":"string"}}}}]}`
	resp := post(t, r.URL, "/v1/messages", []byte(body), nil)
	id := resp.Header.Get("x-request-id")
	wantMessageStop(t, resp, "custom tool beside web_search")
	reqs := up.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d upstream requests", len(reqs))
	}
	if got := gjson.GetBytes(reqs[0], "tools.#.function.name").Raw; got != `["Read"]` {
		t.Fatalf("upstream tools %s", gjson.GetBytes(reqs[0], "tools").Raw)
	}
	var warned bool
	for _, line := range strings.Split(r.logs(), "\n") {
		l := gjson.Parse(line)
		if l.Get("level").Str == "warn" && l.Get("tool").Str == "web_search" && l.Get("type").Str == "web_search_20250305" {
			warned = true
			if id == "" || l.Get("request_id").Str != id {
				t.Errorf("warning's request_id %q, the response's x-request-id %q", l.Get("request_id").Str, id)
			}
		}
	}
	if !warned {
		t.Fatalf("no warning for the dropped tool:\n%s", r.logs())
	}
}
