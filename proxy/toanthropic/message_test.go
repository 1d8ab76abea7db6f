package toanthropic

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestMessage(t *testing.T) {
	cfg := Config{Model: "claude-x", MessageID: "msg_1", InputTokens: 7, Thinking: true, StopSequences: []string{"END"}}
	usage := `"usage":{"prompt_tokens":100,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":60}}`
	tests := []struct {
		name, body, want string
		stop             string
		usage            Usage
		cfg              *Config
	}{
		{
			name: "text",
			body: `{"choices":[{"index":0,"message":{"role":"assistant","content":"Hi \"there\""},"finish_reason":"stop"}],` + usage + `}`,
			want: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"Hi \"there\""}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":40,"cache_creation_input_tokens":0,"cache_read_input_tokens":60,"output_tokens":20}}`,
			stop: "end_turn", usage: Usage{40, 20, 60},
		},
		{
			name: "reasoning text tools",
			body: `{"choices":[{"message":{"content":"Let me.","reasoning_content":"think","tool_calls":[` +
				`{"id":"call_1","type":"function","function":{"name":"Read","arguments":"{\"file_path\":\"/a\"}"}},` +
				`{"type":"function","function":{"name":"Bash","arguments":""}},` +
				`{"id":"call_3","type":"function","function":{"name":"Edit","arguments":"{\"a\": tru"}},` +
				`{"id":"call_4","type":"function","function":{"name":"Obj","arguments":{"k":1}}}]},"finish_reason":"tool_calls"}]}`,
			want: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[` +
				`{"type":"thinking","thinking":"think","signature":"` + ThinkingSignature("think") + `"},` +
				`{"type":"text","text":"Let me."},` +
				`{"type":"tool_use","id":"call_1","name":"Read","input":{"file_path":"/a"}},` +
				`{"type":"tool_use","id":"toolu_SYNTHETIC","name":"Bash","input":{}},` +
				`{"type":"tool_use","id":"call_3","name":"Edit","input":{"_raw":"{\"a\": tru"}},` +
				`{"type":"tool_use","id":"call_4","name":"Obj","input":{"k":1}}],` +
				`"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":7,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":14}}`,
			stop: "tool_use", usage: Usage{7, 14, 0},
		},
		{
			name: "thinking off, length",
			body: `{"choices":[{"message":{"content":"abc","reasoning":"hidden"},"finish_reason":"length"}],` + usage + `}`,
			cfg:  &Config{Model: "m", MessageID: "msg_2"},
			want: `{"id":"msg_2","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"abc"}],"stop_reason":"max_tokens","stop_sequence":null,"usage":{"input_tokens":40,"cache_creation_input_tokens":0,"cache_read_input_tokens":60,"output_tokens":20}}`,
			stop: "max_tokens", usage: Usage{40, 20, 60},
		},
		{
			name: "empty content, content filter",
			body: `{"choices":[{"message":{"content":null},"finish_reason":"content_filter"}]}`,
			want: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":"refusal","stop_sequence":null,"usage":{"input_tokens":7,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`,
			stop: "refusal", usage: Usage{7, 0, 0},
		},
		{
			name: "stop sequence via vLLM stop_reason, content parts",
			body: `{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},"finish_reason":"stop","stop_reason":"END"}]}`,
			want: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"ab"}],"stop_reason":"stop_sequence","stop_sequence":"END","usage":{"input_tokens":7,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}`,
			stop: "stop_sequence", usage: Usage{7, 1, 0},
		},
		{
			name: "refusal field",
			body: `{"choices":[{"message":{"content":null,"refusal":"I can't."},"finish_reason":"stop"}]}`,
			want: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"I can't."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":7,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2}}`,
			stop: "end_turn", usage: Usage{7, 2, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			if tt.cfg != nil {
				c = *tt.cfg
			}
			out, u, stop, err := Message([]byte("prefix"), []byte(tt.body), c)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(out), "prefix") {
				t.Fatal("dst prefix lost")
			}
			got := synthID.ReplaceAllString(string(out[len("prefix"):]), "toolu_SYNTHETIC")
			if got != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Fatal("invalid JSON")
			}
			if stop != tt.stop || u != tt.usage {
				t.Fatalf("stop %q usage %+v; want %q %+v", stop, u, tt.stop, tt.usage)
			}
		})
	}
}

func TestMessageErrors(t *testing.T) {
	_, _, _, err := Message(nil, []byte(`{"error":{"message":"slow down","type":"rate_limit_exceeded"}}`), Config{})
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Type != "rate_limit_error" || ue.Message != "slow down" {
		t.Fatalf("error body: %v", err)
	}
	for _, body := range []string{`{"choices":[]}`, `{"choices":[`, ``} {
		if out, _, _, err := Message(nil, []byte(body), Config{}); err == nil || len(out) != 0 {
			t.Fatalf("%q: err %v out %q", body, err, out)
		}
	}
	// A generated id.
	out, _, _, err := Message(nil, []byte(`{"choices":[{"message":{"content":"x"},"finish_reason":"stop"}]}`), Config{})
	if err != nil || !strings.HasPrefix(string(out), `{"id":"msg_`) {
		t.Fatalf("generated id: %s %v", out, err)
	}
}
