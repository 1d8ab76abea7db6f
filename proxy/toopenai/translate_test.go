package toopenai

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// translateJSON translates body with the default models (gpt-5 big,
// gpt-5-mini small) unless o is given, checks the output, and decodes it.
func translateJSON(t *testing.T, body string, o *Options) (map[string]any, Info) {
	t.Helper()
	if o == nil {
		m, err := NewModels(ModelsConfig{Big: "gpt-4o", Small: "gpt-4o-mini"})
		if err != nil {
			t.Fatal(err)
		}
		o = &Options{Models: m}
	}
	out, info, err := Translate(nil, []byte(body), o)
	if err != nil {
		t.Fatalf("Translate: %v\nbody: %s", err, body)
	}
	checkOutput(t, out)
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m, info
}

// req builds a request body around messages JSON and extra top-level fields.
func req(model, messages, extra string) string {
	s := `{"model":"` + model + `","max_tokens":1000,"messages":` + messages
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

func assertJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	w := mustJSON(t, want)
	if !reflect.DeepEqual(got, w) {
		g, _ := json.Marshal(got)
		t.Errorf("%s:\n got %s\nwant %s", what, g, want)
	}
}

func TestMessages(t *testing.T) {
	tests := []struct {
		name     string
		model    string
		messages string
		extra    string
		want     string // expected "messages"
	}{
		{
			name:     "system string",
			messages: `[{"role":"user","content":"hi"}]`,
			extra:    `"system":"be brief"`,
			want:     `[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]`,
		},
		{
			name:     "system blocks joined, cache_control and billing header dropped",
			messages: `[{"role":"user","content":"hi"}]`,
			extra: `"system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=1"},` +
				`{"type":"text","text":"a\"b","cache_control":{"type":"ephemeral"}},{"type":"text","text":"c"}]`,
			want: `[{"role":"system","content":"a\"b\nc"},{"role":"user","content":"hi"}]`,
		},
		{
			name:     "developer role for gpt-5 and in-message system turn in place",
			model:    "gpt-5",
			messages: `[{"role":"user","content":"hi"},{"role":"system","content":[{"type":"text","text":"env"}]},{"role":"user","content":"go"}]`,
			extra:    `"system":"sys"`,
			want: `[{"role":"developer","content":"sys"},{"role":"user","content":"hi"},` +
				`{"role":"developer","content":"env"},{"role":"user","content":"go"}]`,
		},
		{
			name:     "single text block becomes a plain string",
			messages: `[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}]`,
			want:     `[{"role":"user","content":"hi"}]`,
		},
		{
			name: "images base64 and url",
			messages: `[{"role":"user","content":[{"type":"text","text":"look"},` +
				`{"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"QUJD"}},` +
				`{"type":"image","source":{"type":"url","url":"https://x.test/a.png"}}]}]`,
			want: `[{"role":"user","content":[{"type":"text","text":"look"},` +
				`{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,QUJD"}},` +
				`{"type":"image_url","image_url":{"url":"https://x.test/a.png"}}]}]`,
		},
		{
			name: "documents: pdf, text, url",
			messages: `[{"role":"user","content":[` +
				`{"type":"document","title":"r.pdf","source":{"type":"base64","media_type":"application/pdf","data":"JVBE"}},` +
				`{"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain"}},` +
				`{"type":"document","source":{"type":"url","url":"https://x.test/d.pdf"}}]}]`,
			want: `[{"role":"user","content":[` +
				`{"type":"file","file":{"filename":"r.pdf","file_data":"data:application/pdf;base64,JVBE"}},` +
				`{"type":"text","text":"plain"},` +
				`{"type":"text","text":"[document: https://x.test/d.pdf]"}]}]`,
		},
		{
			name: "assistant tool_use and tool_result ordering with mixed content",
			messages: `[{"role":"user","content":"run"},` +
				`{"role":"assistant","content":[{"type":"text","text":"ok"},` +
				`{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls \"a\"", "n": [1, 2]}},` +
				`{"type":"tool_use","id":"t2","name":"Noop","input":{}},` +
				`{"type":"tool_use","id":"t3","name":"Absent"}]},` +
				`{"role":"user","content":[{"type":"text","text":"before"},` +
				`{"type":"tool_result","tool_use_id":"t1","content":"out"},` +
				`{"type":"tool_result","tool_use_id":"t2","is_error":true,"content":[{"type":"text","text":"bad"},{"type":"text","text":"worse"}]},` +
				`{"type":"tool_result","tool_use_id":"t3"},` +
				`{"type":"text","text":"after"}]}]`,
			want: `[{"role":"user","content":"run"},` +
				`{"role":"assistant","content":"ok","tool_calls":[` +
				`{"id":"t1","type":"function","function":{"name":"Bash","arguments":"{\"command\":\"ls \\\"a\\\"\",\"n\":[1,2]}"}},` +
				`{"id":"t2","type":"function","function":{"name":"Noop","arguments":"{}"}},` +
				`{"id":"t3","type":"function","function":{"name":"Absent","arguments":"{}"}}]},` +
				`{"role":"tool","tool_call_id":"t1","content":"out"},` +
				`{"role":"tool","tool_call_id":"t2","content":"Error: bad\nworse"},` +
				`{"role":"tool","tool_call_id":"t3","content":""},` +
				`{"role":"user","content":[{"type":"text","text":"before"},{"type":"text","text":"after"}]}]`,
		},
		{
			name: "assistant with only tool_use has null content",
			messages: `[{"role":"user","content":"run"},` +
				`{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"A","input":{"x":1}}]},` +
				`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"1"}]}]`,
			want: `[{"role":"user","content":"run"},` +
				`{"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":"A","arguments":"{\"x\":1}"}}]},` +
				`{"role":"tool","tool_call_id":"t1","content":"1"}]`,
		},
		{
			name: "images in tool results move to a following user message",
			messages: `[{"role":"user","content":"shot"},` +
				`{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Shot","input":{}}]},` +
				`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"here"},` +
				`{"type":"image","source":{"type":"base64","media_type":"image/png","data":"UE5H"}}]},{"type":"text","text":"thanks"}]}]`,
			want: `[{"role":"user","content":"shot"},` +
				`{"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":"Shot","arguments":"{}"}}]},` +
				`{"role":"tool","tool_call_id":"t1","content":"here"},` +
				`{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,UE5H"}},{"type":"text","text":"thanks"}]}]`,
		},
		{
			name: "thinking dropped by default, unknown blocks degrade to text",
			messages: `[{"role":"user","content":[{"type":"text","text":"q"},{"type":"search_result","text":"found"},{"type":"mystery","x":1}]},` +
				`{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"redacted_thinking","data":"zz"},{"type":"text","text":"a"}]}]`,
			want: `[{"role":"user","content":[{"type":"text","text":"q"},{"type":"text","text":"found"},{"type":"text","text":"{\"type\":\"mystery\",\"x\":1}"}]},` +
				`{"role":"assistant","content":"a"}]`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o *Options
			model := "gpt-4o"
			if tc.model != "" {
				model = tc.model
				m, err := NewModels(ModelsConfig{Big: model})
				if err != nil {
					t.Fatal(err)
				}
				o = &Options{Models: m}
			}
			got, _ := translateJSON(t, req(model, tc.messages, tc.extra), o)
			assertJSON(t, "messages", got["messages"], tc.want)
		})
	}
}

func TestReasoningReplay(t *testing.T) {
	body := req("deepseek-reasoner", `[{"role":"user","content":"q"},`+
		`{"role":"assistant","content":[{"type":"thinking","thinking":"step \"1\"","signature":"s"},{"type":"thinking","thinking":"step 2"},{"type":"text","text":"a"}]},`+
		`{"role":"user","content":"more"}]`, "")
	m, err := NewModels(ModelsConfig{ReasoningModels: []string{"deepseek-reasoner"}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := translateJSON(t, body, &Options{Models: m, ReasoningReplay: true})
	assertJSON(t, "messages", got["messages"], `[{"role":"user","content":"q"},`+
		`{"role":"assistant","content":"a","reasoning_content":"step \"1\"\nstep 2"},{"role":"user","content":"more"}]`)
	if _, ok := got["max_completion_tokens"]; !ok {
		t.Errorf("extra reasoning model should get max_completion_tokens: %v", got)
	}
}

func TestTools(t *testing.T) {
	tools := `"tools":[{"name":"Bash","description":"run","input_schema":{"type":"object","properties":{"c":{"type":"string"}}},"cache_control":{"type":"ephemeral"},"defer_loading":true,"input_examples":[{}]},` +
		`{"type":"web_search_20250305","name":"web_search","max_uses":3},{"type":"code_execution_20250825","name":"code_execution"},{"type":"custom","name":"NoSchema"}]`
	tests := []struct {
		name, extra string
		want        map[string]string // field -> expected JSON; "" = absent
	}{
		{"server tools dropped, keys stripped", tools, map[string]string{
			"tools": `[{"type":"function","function":{"name":"Bash","description":"run","parameters":{"type":"object","properties":{"c":{"type":"string"}}}}},` +
				`{"type":"function","function":{"name":"NoSchema","parameters":{"type":"object","properties":{}}}}]`,
			"tool_choice": "", "parallel_tool_calls": "",
		}},
		{"auto", tools + `,"tool_choice":{"type":"auto"}`, map[string]string{"tool_choice": `"auto"`}},
		{"any", tools + `,"tool_choice":{"type":"any","disable_parallel_tool_use":true}`, map[string]string{"tool_choice": `"required"`, "parallel_tool_calls": "false"}},
		{"tool", tools + `,"tool_choice":{"type":"tool","name":"Bash"}`, map[string]string{"tool_choice": `{"type":"function","function":{"name":"Bash"}}`}},
		{"none", tools + `,"tool_choice":{"type":"none"}`, map[string]string{"tool_choice": `"none"`}},
		{"tool without schema (custom) is sent, so it may be chosen", tools + `,"tool_choice":{"type":"tool","name":"NoSchema"}`,
			map[string]string{"tool_choice": `{"type":"function","function":{"name":"NoSchema"}}`}},
		{"choice of an unknown tool becomes auto", tools + `,"tool_choice":{"type":"tool","name":"Nope"}`,
			map[string]string{"tool_choice": `"auto"`}},
		{"empty tools omitted with their choice", `"tools":[],"tool_choice":{"type":"auto","disable_parallel_tool_use":true}`,
			map[string]string{"tools": "", "tool_choice": "", "parallel_tool_calls": ""}},
		{"only server tools, choice none: omitted", `"tools":[{"type":"web_search_20250305","name":"web_search"}],"tool_choice":{"type":"none"}`,
			map[string]string{"tools": "", "tool_choice": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := translateJSON(t, req("gpt-4o", `[{"role":"user","content":"hi"}]`, tc.extra), nil)
			assertFields(t, got, tc.want)
		})
	}
}

func TestParameters(t *testing.T) {
	long := strings.Repeat("u", 65)
	tests := []struct {
		name, model, extra string
		maxTokens          int
		want               map[string]string // field -> JSON; "" = absent
	}{
		{"gpt-4o clamps max_tokens", "gpt-4o", "", 100000, map[string]string{"max_tokens": "16384", "max_completion_tokens": ""}},
		{"gpt-4.1 clamps", "gpt-4.1-mini", "", 100000, map[string]string{"max_tokens": "32768"}},
		{"under the limit kept", "gpt-4o", "", 1000, map[string]string{"max_tokens": "1000"}},
		{"gpt-5 max_completion_tokens", "gpt-5", "", 200000, map[string]string{"max_completion_tokens": "128000", "max_tokens": ""}},
		{"o3 with provider prefix", "openai/o3-mini", "", 200000, map[string]string{"max_completion_tokens": "100000"}},
		{"deepseek-chat", "deepseek-chat", "", 32000, map[string]string{"max_tokens": "8192"}},
		{"unknown model keeps client value", "llama-3-70b", "", 123456, map[string]string{"max_tokens": "123456"}},
		{"sampling kept for gpt-4o, top_k dropped", "gpt-4o", `"temperature":0.5,"top_p":0.9,"top_k":5,"stop_sequences":["a","b","c","d","e"]`, 10,
			map[string]string{"temperature": "0.5", "top_p": "0.9", "top_k": "", "stop": `["a","b","c","d"]`}},
		{"sampling and stop dropped for reasoning", "o4-mini", `"temperature":0.5,"top_p":0.9,"stop_sequences":["a"]`, 10,
			map[string]string{"temperature": "", "top_p": "", "stop": ""}},
		{"budget low", "gpt-5", `"thinking":{"type":"enabled","budget_tokens":1024}`, 10, map[string]string{"reasoning_effort": `"low"`}},
		{"budget medium", "gpt-5", `"thinking":{"type":"enabled","budget_tokens":4096}`, 10, map[string]string{"reasoning_effort": `"medium"`}},
		{"budget high", "gpt-5", `"thinking":{"type":"enabled","budget_tokens":31999}`, 10, map[string]string{"reasoning_effort": `"high"`}},
		{"adaptive effort", "gpt-5", `"thinking":{"type":"adaptive"},"output_config":{"effort":"low"}`, 10, map[string]string{"reasoning_effort": `"low"`}},
		{"adaptive max", "gpt-5", `"thinking":{"type":"adaptive"},"output_config":{"effort":"max"}`, 10, map[string]string{"reasoning_effort": `"high"`}},
		{"disabled", "gpt-5", `"thinking":{"type":"disabled"},"output_config":{"effort":"high"}`, 10, map[string]string{"reasoning_effort": ""}},
		{"not sent to gpt-4o", "gpt-4o", `"thinking":{"type":"enabled","budget_tokens":31999}`, 10, map[string]string{"reasoning_effort": ""}},
		{"stream", "gpt-4o", `"stream":true`, 10, map[string]string{"stream": "true", "stream_options": `{"include_usage":true}`}},
		{"no stream", "gpt-4o", `"stream":false`, 10, map[string]string{"stream": "", "stream_options": ""}},
		{"short user", "gpt-4o", `"metadata":{"user_id":"abc"}`, 10, map[string]string{"user": `"abc"`}},
		{"long user hashed", "gpt-4o", `"metadata":{"user_id":"` + long + `"}`, 10,
			map[string]string{"user": `"f20e249d15fa4b9f44ba21d154f62e1efa76ddfdce5d25139a33a4787cee5a8b"`}},
		{"json_schema output", "gpt-4o", `"output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{"t":{"type":"string"}},"additionalProperties":false}}}`, 10,
			map[string]string{"response_format": `{"type":"json_schema","json_schema":{"name":"output","schema":{"type":"object","properties":{"t":{"type":"string"}},"additionalProperties":false},"strict":true}}`}},
		{"json_schema open schema not strict", "gpt-4o", `"output_config":{"format":{"type":"json_schema","schema":{"type":"object"}}}`, 10,
			map[string]string{"response_format": `{"type":"json_schema","json_schema":{"name":"output","schema":{"type":"object"}}}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"model":"` + tc.model + `","max_tokens":` + itoa(tc.maxTokens) + `,"messages":[{"role":"user","content":"hi"}]`
			if tc.extra != "" {
				body += "," + tc.extra
			}
			body += "}"
			m, err := NewModels(ModelsConfig{Big: "unused", Map: tc.model + "=" + tc.model})
			if err != nil {
				t.Fatal(err)
			}
			got, info := translateJSON(t, body, &Options{Models: m})
			if got["model"] != tc.model {
				t.Errorf("model = %v; want %s", got["model"], tc.model)
			}
			assertFields(t, got, tc.want)
			if mt, ok := got["max_tokens"]; ok && int(mt.(float64)) != info.MaxTokens {
				t.Errorf("Info.MaxTokens = %d; sent %v", info.MaxTokens, mt)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestTinyInputEstimate: a two-byte message is one token, not none (it
// was 0 in message_start's usage).
func TestTinyInputEstimate(t *testing.T) {
	_, info := translateJSON(t, `{"model":"claude-3-5-haiku-latest","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`, nil)
	if info.InputTokensEstimate != 1 {
		t.Fatalf("InputTokensEstimate %d, want 1", info.InputTokensEstimate)
	}
}

func TestInfo(t *testing.T) {
	_, info := translateJSON(t, `{"model":"claude-3-5-haiku-latest","max_tokens":50000,"stream":true,"thinking":{"type":"adaptive"},`+
		`"stop_sequences":["\n\nHuman:"],"system":"`+strings.Repeat("s", 400)+`","messages":[{"role":"user","content":"hi"}]}`, nil)
	want := Info{Model: "claude-3-5-haiku-latest", UpstreamModel: "gpt-4o-mini", Stream: true, Thinking: true,
		StopSequences: []string{"\n\nHuman:"}, MaxTokens: 16384, InputTokensEstimate: 101}
	if !reflect.DeepEqual(info, want) {
		t.Errorf("info = %+v; want %+v", info, want)
	}
}

func TestValidation(t *testing.T) {
	tests := []struct{ body, field string }{
		{`not json`, "body"},
		{`[1]`, "body"},
		{`{"max_tokens":1,"messages":[]}`, "model"},
		{`{"model":3,"max_tokens":1,"messages":[]}`, "model"},
		{`{"model":"m","max_tokens":1}`, "messages"},
		{`{"model":"m","max_tokens":1,"messages":{}}`, "messages"},
		{`{"model":"m","messages":[{"role":"user","content":"x"}]}`, "max_tokens"},
		{`{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`, "max_tokens"},
		{`{"model":"m","max_tokens":1.5,"messages":[{"role":"user","content":"x"}]}`, "max_tokens"},
		{`{"model":"m","max_tokens":"9","messages":[{"role":"user","content":"x"}]}`, "max_tokens"},
		{`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"},{"role":"bot","content":"x"}]}`, "messages.1.role"},
		{`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"},{"role":"user","content":"x"},{"role":"user","content":"x"},{"role":"user","content":7}]}`, "messages.3.content"},
		{`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":["x"]}]}`, "messages.0.content.0"},
		{`{"model":"m","max_tokens":1,"messages":[{"role":"user"}]}`, "messages.0.content"},
		{`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"tools":[{"input_schema":{}}]}`, "tools.0.name"},
		{`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"stop_sequences":[1]}`, "stop_sequences.0"},
		{`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"system":5}`, "system"},
		{strings.Repeat("[", 100000), "body"},
		{`{"a":` + strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1001), "body"},
	}
	for _, tc := range tests {
		out, _, err := Translate([]byte("keep"), []byte(tc.body), nil)
		var re *RequestError
		if !errors.As(err, &re) {
			t.Errorf("%.60s: err = %v; want *RequestError", tc.body, err)
			continue
		}
		if re.Field != tc.field || !strings.HasPrefix(re.Error(), tc.field+": ") {
			t.Errorf("%.60s: field = %q (%v); want %q", tc.body, re.Field, re, tc.field)
		}
		if string(out) != "keep" {
			t.Errorf("%.60s: dst modified on error: %q", tc.body, out)
		}
	}
}

func TestUnknownFieldsAccepted(t *testing.T) {
	got, _ := translateJSON(t, `{"model":"gpt-4o","max_tokens":5,"safeguards":{"x":[1]},"context_management":{"edits":[]},`+
		`"messages":[{"role":"user","content":"hi","extra":true}],"future":null}`, nil)
	assertJSON(t, "messages", got["messages"], `[{"role":"user","content":"hi"}]`)
}

// assertFields checks each field of want in got: its JSON value, or absence
// when want holds "".
func assertFields(t *testing.T, got map[string]any, want map[string]string) {
	t.Helper()
	for field, w := range want {
		v, ok := got[field]
		if w == "" {
			if ok {
				t.Errorf("%s present: %v", field, v)
			}
			continue
		}
		assertJSON(t, field, v, w)
	}
}
