package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/anthropics/anthropic-sdk-go/packages/ssestream"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
)

// TestOfficialSDKStream uses Anthropic's own Go SDK as the client: its
// event decoder and accumulator must rebuild the whole message (tool_use
// input, text, usage) from what ccproxy streams, with every engine.
func TestOfficialSDKStream(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRig(t, eng, fakeupstream.Options{}, nil)
			client := anthropic.NewClient(option.WithBaseURL(r.URL), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
			ctx := context.Background()
			tool := anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{
				Properties: map[string]any{"command": map[string]any{"type": "string"}},
			}, "Bash")
			stream := client.Messages.NewStreaming(ctx, anthropic.MessageNewParams{
				Model:     "claude-opus-5-5",
				MaxTokens: 1024,
				Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("list files"))},
				Tools:     []anthropic.ToolUnionParam{tool},
			})
			defer stream.Close()
			msg := accumulate(t, stream)
			if msg.StopReason != anthropic.StopReasonToolUse || len(msg.Content) == 0 {
				t.Fatalf("stop %q content %d", msg.StopReason, len(msg.Content))
			}
			last := msg.Content[len(msg.Content)-1]
			if last.Type != "tool_use" || last.Name != "Bash" {
				t.Fatalf("last block %+v", last)
			}
			var in struct{ Command string }
			if err := json.Unmarshal(last.Input, &in); err != nil || in.Command == "" {
				t.Fatalf("tool input %s: %v", last.Input, err)
			}
			if msg.Usage.OutputTokens <= 0 || msg.Usage.InputTokens <= 0 {
				t.Fatalf("usage %+v", msg.Usage)
			}

			// Then a plain text turn, unary.
			out, err := client.Messages.New(ctx, anthropic.MessageNewParams{
				Model: "claude-haiku-4-5", MaxTokens: 200,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello"))},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Content) != 1 || out.Content[0].Type != "text" || out.Content[0].Text == "" {
				t.Fatalf("unary content %+v", out.Content)
			}
		})
	}
}

// TestOfficialSDKError: the SDK decodes ccproxy's errors, before and
// during a stream.
func TestOfficialSDKError(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, nil)
	client := anthropic.NewClient(option.WithBaseURL(r.URL), option.WithAPIKey("k"), option.WithMaxRetries(0))
	params := anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 50,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}

	r.Up.InjectFaults(fakeupstream.Fault{Kind: fakeupstream.Status, Status: 400, Body: `{"error":{"message":"bad thing","type":"invalid_request_error"}}`})
	_, err := client.Messages.New(context.Background(), params)
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
		t.Fatalf("want a 400 *anthropic.Error, got %v", err)
	}

	r.Up.InjectFaults(fakeupstream.Fault{Kind: fakeupstream.StreamError, AfterChunks: 2, Body: "exploded"})
	stream := client.Messages.NewStreaming(context.Background(), params)
	defer stream.Close()
	for stream.Next() {
	}
	if stream.Err() == nil {
		t.Fatal("mid-stream error event not surfaced by the SDK")
	}
}

// accumulate reads an SDK event stream to its end into the message it
// carries, failing the test on an event the SDK cannot accumulate or on the
// stream's error.
func accumulate(t *testing.T, stream *ssestream.Stream[anthropic.MessageStreamEventUnion]) anthropic.Message {
	t.Helper()
	var msg anthropic.Message
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	return msg
}
