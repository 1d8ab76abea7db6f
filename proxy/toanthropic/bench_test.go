package toanthropic

import (
	"os"
	"testing"
)

// benchChunks are steady-state chunks of each kind, with the chunks that
// open their block first.
var benchChunks = []struct {
	name, chunk string
	prime       []string
}{
	{
		name:  "text",
		prime: []string{`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}`},
		chunk: `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" the quick \"brown\" fox\n"},"logprobs":null,"finish_reason":null}]}`,
	},
	{
		name:  "reasoning",
		prime: []string{`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":null,"reasoning_content":"Hm"},"finish_reason":null}]}`},
		chunk: `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":null,"reasoning_content":" so the user wants \u00e9 a file"},"finish_reason":null}]}`,
	},
	{
		name:  "thinking_parts",
		prime: []string{`{"id":"c","object":"chat.completion.chunk","created":1,"model":"magistral","choices":[{"index":0,"delta":{"role":"assistant","content":[{"type":"thinking","thinking":[{"type":"text","text":"Hm"}]}]},"finish_reason":null}]}`},
		chunk: `{"id":"c","object":"chat.completion.chunk","created":1,"model":"magistral","choices":[{"index":0,"delta":{"content":[{"type":"thinking","thinking":[{"type":"text","text":" so the user wants \u00e9 a file"}]}]},"finish_reason":null}]}`,
	},
	{
		name:  "text_parts",
		prime: []string{`{"id":"c","object":"chat.completion.chunk","created":1,"model":"magistral","choices":[{"index":0,"delta":{"role":"assistant","content":[{"type":"text","text":"Hi"}]},"finish_reason":null}]}`},
		chunk: `{"id":"c","object":"chat.completion.chunk","created":1,"model":"magistral","choices":[{"index":0,"delta":{"content":[{"type":"text","text":" the quick \"brown\" fox\n"}]},"finish_reason":null}]}`,
	},
	{
		name:  "tool_args",
		prime: []string{`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"Read","arguments":""}}]},"finish_reason":null}]}`},
		chunk: `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"file_path\": \"/src/a.go\", "}}]},"finish_reason":null}]}`,
	},
}

func BenchmarkEvent(b *testing.B) {
	for _, c := range benchChunks {
		b.Run(c.name, func(b *testing.B) {
			s := NewStream(Config{Model: "m", MessageID: "msg_x", Thinking: true})
			dst := s.Start(make([]byte, 0, 4096))
			for _, p := range c.prime {
				dst, _ = s.Event(dst[:0], []byte(p))
			}
			chunk := []byte(c.chunk)
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = s.Event(dst[:0], chunk)
			}
		})
	}
}

// BenchmarkTranscript translates a whole golden transcript per op (Reset,
// SSE parsing, all events, Finish).
func BenchmarkTranscript(b *testing.B) {
	for _, name := range []string{"text-only", "parallel-tools-interleaved"} {
		in, err := os.ReadFile("testdata/" + name + ".openai.sse")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			s := NewStream(Config{})
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				s.Reset(Config{Model: "m", MessageID: "msg_x"})
				translate(b, s, in)
			}
		})
	}
}

func BenchmarkMessage(b *testing.B) {
	body := []byte(`{"id":"chatcmpl-1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Let me look.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"Read","arguments":"{\"file_path\":\"/a.go\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":100,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":50}}}`)
	dst := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		dst, _, _, _ = Message(dst[:0], body, Config{Model: "m", MessageID: "msg_x"})
	}
}
