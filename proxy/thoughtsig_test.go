package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
)

// Gemini's thought signature for the test's tool step, as it decodes, and as
// the upstream writes it in JSON ('/' as \/, '+' as \u002b).
const (
	thoughtSig        = "CiQBjz1rX/x+Q2xhdWRl/Y29kZQ=="
	thoughtSigEscaped = `CiQBjz1rX\/x\u002bQ2xhdWRl\/Y29kZQ==`
)

// geminiUpstream behaves like Gemini 3 behind Google's OpenAI-compatible
// endpoint: a request without tool history gets two parallel calls, the
// signature on the first only; a request replaying them gets 400 with
// Gemini's message unless the first call carries the exact signature in
// extra_content, every call and tool message keep the upstream ids, and the
// second call carries no extra_content. It counts the turns it accepted.
func geminiUpstream(t *testing.T, accepted *atomic.Int32) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages []struct {
				Role       string `json:"role"`
				ToolCallID string `json:"tool_call_id"`
				ToolCalls  []struct {
					ID           string `json:"id"`
					ExtraContent *struct {
						Google struct {
							ThoughtSignature string `json:"thought_signature"`
						} `json:"google"`
					} `json:"extra_content"`
				} `json:"tool_calls"`
			} `json:"messages"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var problem string
		replayed := false
		var toolIDs []string
		for _, m := range req.Messages {
			switch {
			case m.Role == "assistant" && len(m.ToolCalls) > 0:
				replayed = true
				if len(m.ToolCalls) != 2 || m.ToolCalls[0].ID != "function-call-4711" || m.ToolCalls[1].ID != "function-call-4712" {
					problem = "tool call ids changed"
					for _, c := range m.ToolCalls {
						problem += " " + c.ID
					}
				} else if x := m.ToolCalls[0].ExtraContent; x == nil || x.Google.ThoughtSignature != thoughtSig {
					problem = "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:Read` , position 2. please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
				} else if m.ToolCalls[1].ExtraContent != nil {
					problem = "the second call got an extra_content"
				}
			case m.Role == "tool":
				toolIDs = append(toolIDs, m.ToolCallID)
			}
		}
		if replayed && problem == "" && (len(toolIDs) != 2 || toolIDs[0] != "function-call-4711" || toolIDs[1] != "function-call-4712") {
			problem = fmt.Sprintf("tool messages refer to %q", toolIDs)
		}
		if problem != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			msg, _ := json.Marshal(problem)
			fmt.Fprintf(w, `[{"error":{"code":400,"message":%s,"status":"INVALID_ARGUMENT"}}]`, msg)
			return
		}
		accepted.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		if !replayed {
			io.WriteString(w, sseBody(
				`{"id":"g1","object":"chat.completion.chunk","created":1,"model":"gemini-3-pro-preview","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[`+
					`{"extra_content":{"google":{"thought_signature":"`+thoughtSigEscaped+`"}},"function":{"arguments":"{\"path\":\"a.go\"}","name":"Read"},"id":"function-call-4711","type":"function","index":0},`+
					`{"function":{"arguments":"{\"path\":\"b.go\"}","name":"Read"},"id":"function-call-4712","type":"function","index":1}]}}]}`,
				`{"id":"g1","object":"chat.completion.chunk","created":1,"model":"gemini-3-pro-preview","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":40,"completion_tokens":12,"total_tokens":52}}`,
				`[DONE]`))
			return
		}
		io.WriteString(w, sseBody(
			`{"id":"g2","object":"chat.completion.chunk","created":1,"model":"gemini-3-pro-preview","choices":[{"index":0,"delta":{"role":"assistant","content":"Both files read."}}]}`,
			`{"id":"g2","object":"chat.completion.chunk","created":1,"model":"gemini-3-pro-preview","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":60,"completion_tokens":4,"total_tokens":64}}`,
			`[DONE]`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestGeminiThoughtSignatureRoundTrip drives ccproxy with the official SDK
// as Claude Code does: stream turn 1 (two parallel tool calls from a
// Gemini-like upstream, a thought signature on the first), accumulate the
// message, then send it back with the tool results. Gemini accepts turn 2
// only when the signature comes back exactly on the first call and the
// upstream ids are restored, with every engine.
func TestGeminiThoughtSignatureRoundTrip(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			var accepted atomic.Int32
			r := newRigFor(t, eng, geminiUpstream(t, &accepted), quietLog, nil)
			client := anthropic.NewClient(option.WithBaseURL(r.URL), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
			ctx := context.Background()
			tool := anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{
				Properties: map[string]any{"path": map[string]any{"type": "string"}},
			}, "Read")
			params := anthropic.MessageNewParams{
				Model:     "claude-sonnet-4-5",
				MaxTokens: 1024,
				Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("read a.go and b.go"))},
				Tools:     []anthropic.ToolUnionParam{tool},
			}
			turn := func() anthropic.Message {
				t.Helper()
				stream := client.Messages.NewStreaming(ctx, params)
				defer stream.Close()
				return accumulate(t, stream)
			}

			first := turn()
			if first.StopReason != anthropic.StopReasonToolUse || len(first.Content) != 2 {
				t.Fatalf("turn 1: stop %q, %d blocks", first.StopReason, len(first.Content))
			}
			var results []anthropic.ContentBlockParamUnion
			for _, b := range first.Content {
				if b.Type != "tool_use" || b.Name != "Read" {
					t.Fatalf("turn 1 block %+v", b)
				}
				results = append(results, anthropic.NewToolResultBlock(b.ID, "package main", false))
			}
			params.Messages = append(params.Messages, first.ToParam(), anthropic.NewUserMessage(results...))

			second := turn()
			if len(second.Content) != 1 || second.Content[0].Text != "Both files read." || second.StopReason != anthropic.StopReasonEndTurn {
				t.Fatalf("turn 2: %+v", second)
			}
			if n := accepted.Load(); n != 2 {
				t.Fatalf("upstream accepted %d turns; want 2", n)
			}
		})
	}
}
