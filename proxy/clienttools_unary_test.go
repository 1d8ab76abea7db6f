package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// memoryArgs are the arguments the upstream model gives the memory tool:
// an insert, whose text is insert_text (not new_str) in the memory tool.
const memoryArgs = `{"command":"insert","path":"/memories/notes.md","insert_line":2,"insert_text":"- prefers tabs\n"}`

// TestMemoryToolUnary: the non-streamed path. A raw memory_20250818
// definition (no input_schema) goes upstream as the function memory with
// Anthropic's schema; the upstream's call comes back as a tool_use named
// memory whose input is exactly the upstream's arguments and whose id is
// the upstream's call id. Over the same path, a request whose only tool is
// a server tool is a 400 and the upstream is not called.
func TestMemoryToolUnary(t *testing.T) {
	up, url := newOverflowUpstream(t, func(_ int, _ []byte, w http.ResponseWriter) {
		args, _ := json.Marshal(memoryArgs)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,`+
			`"tool_calls":[{"id":"call_mem","type":"function","function":{"name":"memory","arguments":`+string(args)+`}}]},"finish_reason":"tool_calls"}],`+
			`"usage":{"prompt_tokens":500,"completion_tokens":30}}`)
	})
	r := newRigFor(t, "nethttp", url, quietLog, nil)
	body := `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"remember I prefer tabs"}],` +
		`"tools":[{"type":"memory_20250818","name":"memory"}]}`
	resp := post(t, r.URL, "/v1/messages", []byte(body), nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	reqs := up.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d upstream requests", len(reqs))
	}
	fn := gjson.GetBytes(reqs[0], "tools.0.function")
	if fn.Get("name").Str != "memory" || !fn.Get("parameters.properties.insert_text").Exists() ||
		fn.Get("parameters.properties.command.enum").Raw != `["view","create","str_replace","insert","delete","rename"]` {
		t.Fatalf("upstream tools %s", gjson.GetBytes(reqs[0], "tools").Raw)
	}
	msg := gjson.ParseBytes(b)
	blk := msg.Get("content.0")
	var got, want map[string]any
	json.Unmarshal([]byte(blk.Get("input").Raw), &got)
	json.Unmarshal([]byte(memoryArgs), &want)
	if msg.Get("stop_reason").Str != "tool_use" || len(msg.Get("content").Array()) != 1 || blk.Get("type").Str != "tool_use" ||
		blk.Get("name").Str != "memory" || !equalJSON(got, want) || !strings.Contains(blk.Get("id").Str, "call_mem") {
		t.Fatalf("answer %s", b)
	}

	refused := `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"news?"}],` +
		`"tools":[{"type":"web_fetch_20250910","name":"web_fetch"}],"tool_choice":{"type":"any"}}`
	resp = post(t, r.URL, "/v1/messages", []byte(refused), nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if typ, m := errorBody(t, resp); typ != errInvalidRequest || !strings.Contains(m, `"web_fetch_20250910"`) {
		t.Fatalf("error %s: %s", typ, m)
	}
	if n := len(up.requests()); n != 1 {
		t.Fatalf("the upstream was called %d times, want 1 (the first request only)", n)
	}
}
