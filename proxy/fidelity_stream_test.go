package proxy

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
)

// chunkJSON is one chat.completion.chunk whose only choice carries delta
// and finish (a raw JSON value: null or a string).
func chunkJSON(delta, finish string) string {
	return `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":` +
		delta + `,"logprobs":null,"finish_reason":` + finish + `}]}`
}

// wantText checks that msg is exactly one text block with text and the stop
// reason stop.
func wantText(t *testing.T, msg anthropic.Message, text string, stop anthropic.StopReason) {
	t.Helper()
	if len(msg.Content) != 1 || msg.Content[0].Type != "text" || msg.Content[0].Text != text || msg.StopReason != stop {
		var got []string
		for _, b := range msg.Content {
			got = append(got, b.Type+":"+b.Text)
		}
		t.Fatalf("content %q stop %q; want one text block %q, stop %q", got, msg.StopReason, text, stop)
	}
}

// TestFidelityStreamRefusal: OpenAI streams a model's refusal in
// delta.refusal (content null). The client must read it as the answer's
// text, as the unary path already gives it; it was dropped, leaving an
// empty answer.
func TestFidelityStreamRefusal(t *testing.T) {
	body := sseBody(
		chunkJSON(`{"role":"assistant","content":null,"refusal":""}`, "null"),
		chunkJSON(`{"refusal":"I can\u2019t help"}`, "null"),
		chunkJSON(`{"refusal":" with that."}`, "null"),
		chunkJSON(`{}`, `"stop"`),
		`{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":40,"completion_tokens":6}}`,
		"[DONE]")
	_, msg := fidelityStream(t, body, fidelityRequest)
	wantText(t, msg, "I can’t help with that.", anthropic.StopReasonEndTurn)

	// The same refusal from an upstream that ignored stream:true.
	completion := `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can’t help with that."},"finish_reason":"stop"}],"usage":{"prompt_tokens":40,"completion_tokens":6}}`
	_, msg = fidelityStream(t, completion, fidelityRequest)
	wantText(t, msg, "I can’t help with that.", anthropic.StopReasonEndTurn)
	wantText(t, fidelityUnary(t, completion, fidelityRequest), "I can’t help with that.", anthropic.StopReasonEndTurn)
}

// TestFidelityToolCallsFinishWithoutCall: an upstream whose tool call
// parser failed ends with finish_reason "tool_calls" but sends only text.
// Anthropic never answers stop_reason tool_use without a tool_use block (a
// client looking for the call to run finds none): it must be end_turn, on
// both paths.
func TestFidelityToolCallsFinishWithoutCall(t *testing.T) {
	body := sseBody(
		chunkJSON(`{"role":"assistant","content":"I will run ls."}`, "null"),
		chunkJSON(`{}`, `"tool_calls"`),
		"[DONE]")
	_, msg := fidelityStream(t, body, fidelityRequest)
	wantText(t, msg, "I will run ls.", anthropic.StopReasonEndTurn)

	completion := `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"I will run ls."},"finish_reason":"tool_calls"}]}`
	wantText(t, fidelityUnary(t, completion, fidelityRequest), "I will run ls.", anthropic.StopReasonEndTurn)
}

// TestFidelityUsageInChoice: Moonshot (Kimi) streams its usage inside the
// finishing choice, not at the chunk's top level, with cache hits as
// usage.cached_tokens. It was ignored: the client got the estimates.
func TestFidelityUsageInChoice(t *testing.T) {
	body := sseBody(
		chunkJSON(`{"role":"assistant","content":"hi"}`, "null"),
		`{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop","usage":{"prompt_tokens":500,"completion_tokens":9,"total_tokens":509,"cached_tokens":128}}]}`,
		"[DONE]")
	_, msg := fidelityStream(t, body, fidelityRequest)
	wantText(t, msg, "hi", anthropic.StopReasonEndTurn)
	if u := msg.Usage; u.InputTokens != 372 || u.CacheReadInputTokens != 128 || u.OutputTokens != 9 {
		t.Fatalf("usage %d in, %d cache read, %d out; want 372, 128, 9", u.InputTokens, u.CacheReadInputTokens, u.OutputTokens)
	}
}

// TestFidelityUnaryUsageEstimate: without upstream usage, the unary answer
// must estimate output_tokens as the stream does (the package documentation
// says both follow the same rules); it reported 0 output tokens, so a
// client's cost and context accounting saw a free answer.
func TestFidelityUnaryUsageEstimate(t *testing.T) {
	text := strings.Repeat("word ", 40)
	completion := `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"` + text +
		`","tool_calls":[{"id":"call_1","type":"function","function":{"name":"Bash","arguments":"{\"command\":\"ls -la\"}"}}]},"finish_reason":"tool_calls"}]}`
	unary := fidelityUnary(t, completion, fidelityRequest)
	_, streamed := fidelityStream(t, completion, fidelityRequest)
	if unary.Usage.OutputTokens <= 0 || unary.Usage.OutputTokens != streamed.Usage.OutputTokens {
		t.Fatalf("unary output_tokens %d, streamed %d; want the same estimate > 0", unary.Usage.OutputTokens, streamed.Usage.OutputTokens)
	}
	if unary.Usage.InputTokens <= 0 || unary.Usage.InputTokens != streamed.Usage.InputTokens {
		t.Fatalf("unary input_tokens %d, streamed %d; want the same estimate > 0", unary.Usage.InputTokens, streamed.Usage.InputTokens)
	}
}

// TestFidelitySecondCallSameIndex: a relay in front of Gemini sends a
// second parallel call at index 0 again, without id or name, its arguments
// a new JSON object after the first call's complete one. Appended to the
// first call they made its input invalid JSON ({...}{...}), which no
// client can run; each must be its own tool_use, the second with the
// same tool name and a synthetic id.
func TestFidelitySecondCallSameIndex(t *testing.T) {
	body := sseBody(
		chunkJSON(`{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"Bash","arguments":""}}]}`, "null"),
		chunkJSON(`{"tool_calls":[{"index":0,"function":{"name":"","arguments":"{\"command\":\"ls\"}"}}]}`, "null"),
		chunkJSON(`{"tool_calls":[{"index":0,"function":{"name":"","arguments":" {\"command\":"}}]}`, "null"),
		chunkJSON(`{"tool_calls":[{"index":0,"function":{"arguments":"\"pwd\"}"}}]}`, "null"),
		chunkJSON(`{}`, `"tool_calls"`),
		"[DONE]")
	_, msg := fidelityStream(t, body, fidelityRequest)
	if len(msg.Content) != 2 || msg.StopReason != anthropic.StopReasonToolUse {
		t.Fatalf("%d blocks, stop %q; want 2 tool_use blocks", len(msg.Content), msg.StopReason)
	}
	for i, want := range []string{`{"command":"ls"}`, `{"command":"pwd"}`} {
		b := msg.Content[i]
		var in map[string]any
		if b.Type != "tool_use" || b.Name != "Bash" || json.Unmarshal(b.Input, &in) != nil || compactJSON(t, b.Input) != want {
			t.Fatalf("block %d: %s %q input %s; want Bash %s", i, b.Type, b.Name, b.Input, want)
		}
	}
	if msg.Content[0].ID != "call_1" || !strings.HasPrefix(msg.Content[1].ID, "toolu_") {
		t.Fatalf("ids %q, %q", msg.Content[0].ID, msg.Content[1].ID)
	}
}

func compactJSON(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return buf.String()
}
