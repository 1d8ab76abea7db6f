package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/engine"
)

// TestStreamFromNonStreamingUpstream: an upstream that ignores
// stream:true and answers with one chat.completion still gives the client
// a valid Anthropic stream with everything in it.
func TestStreamFromNonStreamingUpstream(t *testing.T) {
	completion := `{"id":"chatcmpl-1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant",` +
		`"content":"Let me look.","tool_calls":[` +
		`{"id":"call_a","type":"function","function":{"name":"Read","arguments":"{\"path\":\"a.go\"}"}},` +
		`{"id":"call_b","type":"function","function":{"name":"Bash","arguments":"{\"command\":\"ls\"}"}}]},` +
		`"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":50,"completion_tokens":20,"total_tokens":70}}`
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, completion)
	}))
	defer up.Close()
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRig(t, eng, fakeupstream.Options{}, func(c *Config, _ *engine.Config) { c.UpstreamURL = up.URL + "/v1" })
			resp := post(t, r.URL, "/v1/messages", []byte(streamBody), nil)
			defer resp.Body.Close()
			evs := readEvents(t, resp.Body)
			data := checkGrammar(t, evs)
			var text strings.Builder
			inputs := map[string]*strings.Builder{}
			var order []string
			for _, d := range data {
				switch d["type"] {
				case "content_block_start":
					if cb := d["content_block"].(map[string]any); cb["type"] == "tool_use" {
						name := cb["name"].(string)
						inputs[name] = &strings.Builder{}
						order = append(order, name)
					}
				case "content_block_delta":
					dl := d["delta"].(map[string]any)
					switch dl["type"] {
					case "text_delta":
						text.WriteString(dl["text"].(string))
					case "input_json_delta":
						inputs[order[len(order)-1]].WriteString(dl["partial_json"].(string))
					}
				}
			}
			if text.String() != "Let me look." || strings.Join(order, ",") != "Read,Bash" {
				t.Fatalf("text %q tools %v: %v", text.String(), order, names(evs))
			}
			for name, want := range map[string]string{"Read": "a.go", "Bash": "ls"} {
				var in map[string]string
				if err := json.Unmarshal([]byte(inputs[name].String()), &in); err != nil || (in["path"] != want && in["command"] != want) {
					t.Fatalf("%s input %q: %v", name, inputs[name].String(), err)
				}
			}
			md := data[len(data)-2]
			if md["delta"].(map[string]any)["stop_reason"] != "tool_use" || md["usage"].(map[string]any)["output_tokens"].(float64) != 20 {
				t.Fatalf("message_delta %v", md)
			}
		})
	}
}
