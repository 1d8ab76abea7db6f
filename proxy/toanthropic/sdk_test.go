package toanthropic

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/packages/ssestream"
)

// TestSDKAccumulatesGoldens decodes golden outputs with the official SDK's
// SSE decoder and Message.Accumulate, proving the SDK rebuilds the message.
func TestSDKAccumulatesGoldens(t *testing.T) {
	tests := []struct {
		file   string
		check  func(t *testing.T, m *anthropic.Message)
		errStr string // expected stream error substring
	}{
		{file: "reasoning-text", check: func(t *testing.T, m *anthropic.Message) {
			if len(m.Content) != 2 || m.Content[0].Thinking != `Let me think "hard".` || m.Content[0].Signature == "" ||
				m.Content[1].Text != "Answer." || m.StopReason != "end_turn" ||
				m.Usage.InputTokens != 200 || m.Usage.CacheReadInputTokens != 1000 || m.Usage.OutputTokens != 42 {
				t.Fatalf("message %+v", m)
			}
		}},
		{file: "parallel-tools-interleaved", check: func(t *testing.T, m *anthropic.Message) {
			if len(m.Content) != 2 || m.StopReason != "tool_use" ||
				m.Content[0].Name != "Read" || string(m.Content[0].Input) != `{"file_path":"/tmp/a.go"}` ||
				m.Content[1].ID != "call_b" || string(m.Content[1].Input) != `{"pattern":"**/*.go"}` {
				t.Fatalf("message %+v", m)
			}
		}},
		{file: "tool-quirks", check: func(t *testing.T, m *anthropic.Message) {
			if len(m.Content) != 2 || string(m.Content[0].Input) != `{}` || m.Content[0].Name != "TodoRead" ||
				string(m.Content[1].Input) != `{"file_path":"/b"}` {
				t.Fatalf("message %+v", m)
			}
		}},
		{file: "text-only", check: func(t *testing.T, m *anthropic.Message) {
			if len(m.Content) != 1 || m.Content[0].Text != "Hello, \"world\"\nnaïve 😀 \u2028" || m.ID != "msg_golden" {
				t.Fatalf("message %+v", m)
			}
		}},
		{file: "midstream-error", errStr: "rate_limit_error"},
		{file: "truncated", errStr: "upstream stream ended unexpectedly"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile("testdata/" + tt.file + ".anthropic.sse")
			if err != nil {
				t.Fatal(err)
			}
			res := &http.Response{
				StatusCode: 200,
				Header:     http.Header{"Content-Type": []string{"text/event-stream"}},
				Body:       io.NopCloser(bytes.NewReader(body)),
			}
			stream := ssestream.NewStream[anthropic.MessageStreamEventUnion](ssestream.NewDecoder(res), nil)
			var m anthropic.Message
			for stream.Next() {
				if err := m.Accumulate(stream.Current()); err != nil {
					t.Fatal(err)
				}
			}
			if tt.errStr != "" {
				if stream.Err() == nil || !bytes.Contains([]byte(stream.Err().Error()), []byte(tt.errStr)) {
					t.Fatalf("stream err %v; want %q", stream.Err(), tt.errStr)
				}
				return
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			tt.check(t, &m)
		})
	}
}
