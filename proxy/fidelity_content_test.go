package proxy

import (
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
)

// wantBlocks checks that msg's content is exactly the blocks want, each
// "type:text" (a thinking block's text is its thinking), and the stop
// reason stop. Thinking blocks must carry a signature.
func wantBlocks(t *testing.T, msg anthropic.Message, stop anthropic.StopReason, want ...string) {
	t.Helper()
	var got []string
	for _, b := range msg.Content {
		switch b.Type {
		case "thinking":
			if b.Signature == "" {
				t.Fatalf("thinking block %q without signature", b.Thinking)
			}
			got = append(got, "thinking:"+b.Thinking)
		default:
			got = append(got, b.Type+":"+b.Text)
		}
	}
	if strings.Join(got, "|") != strings.Join(want, "|") || msg.StopReason != stop {
		t.Fatalf("content %q stop %q; want %q, stop %q", got, msg.StopReason, want, stop)
	}
}

// thinkingSig returns the signature of msg's first thinking block.
func thinkingSig(msg anthropic.Message) string {
	for _, b := range msg.Content {
		if b.Type == "thinking" {
			return b.Signature
		}
	}
	return ""
}

// TestFidelityArrayContent: Mistral sends delta.content (and
// message.content) as an array of parts when reasoning is on: thinking
// parts {"type":"thinking","thinking":[{"type":"text","text":...}]} and
// text parts {"type":"text","text":...}, then plain strings once the
// thinking is over. The stream dropped every array, leaving the answer
// without its thinking and its first words. Text parts must be text,
// thinking parts a thinking block (only when the client asked for
// thinking), in order, on every path.
func TestFidelityArrayContent(t *testing.T) {
	body := sseBody(
		chunkJSON(`{"role":"assistant","content":""}`, "null"),
		chunkJSON(`{"content":[{"type":"thinking","thinking":[{"type":"text","text":"The user"}]}]}`, "null"),
		chunkJSON(`{"content":[{"type":"thinking","thinking":[{"type":"text","text":" wants \"files\"."}]}]}`, "null"),
		chunkJSON(`{"content":[{"thinking":[{"text":" Run ls.","type":"text"}],"type":"thinking","closed":true},{"type":"text","text":"Here"}]}`, "null"),
		chunkJSON(`{"content":" they are."}`, "null"),
		chunkJSON(`{"content":[{"type":"text","text":" Done."}]}`, `"stop"`),
		`{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":40,"completion_tokens":12}}`,
		"[DONE]")
	_, streamed := fidelityStream(t, body, fidelityRequest)
	wantBlocks(t, streamed, anthropic.StopReasonEndTurn,
		`thinking:The user wants "files". Run ls.`, "text:Here they are. Done.")

	// Without thinking requested, the thinking parts are dropped.
	noThinking := strings.Replace(fidelityRequest, `"thinking":{"type":"enabled","budget_tokens":1024},`, "", 1)
	_, msg := fidelityStream(t, body, noThinking)
	wantBlocks(t, msg, anthropic.StopReasonEndTurn, "text:Here they are. Done.")

	// The same answer as one chat.completion: from an upstream that ignored
	// stream:true, and on the unary path.
	completion := `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":[` +
		`{"type":"thinking","thinking":[{"type":"text","text":"The user"},{"type":"text","text":" wants \"files\"."}]},` +
		`{"type":"thinking","thinking":[{"type":"text","text":" Run ls."}]},` +
		`{"type":"text","text":"Here they are."},{"type":"text","text":" Done."}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":40,"completion_tokens":12}}`
	_, msg = fidelityStream(t, completion, fidelityRequest)
	wantBlocks(t, msg, anthropic.StopReasonEndTurn, `thinking:The user wants "files". Run ls.`, "text:Here they are. Done.")
	unary := fidelityUnary(t, completion, fidelityRequest)
	wantBlocks(t, unary, anthropic.StopReasonEndTurn, `thinking:The user wants "files". Run ls.`, "text:Here they are. Done.")
	if a, b := thinkingSig(streamed), thinkingSig(unary); a != b {
		t.Fatalf("streamed signature %q, unary %q: the same thinking must sign the same", a, b)
	}
	wantBlocks(t, fidelityUnary(t, completion, noThinking), anthropic.StopReasonEndTurn, "text:Here they are. Done.")

	// A plain text model sending its text as parts.
	body = sseBody(
		chunkJSON(`{"role":"assistant","content":[{"type":"text","text":"Hello"}]}`, "null"),
		chunkJSON(`{"content":[{"type":"text","text":", "},{"type":"text","text":"world"}]}`, `"stop"`),
		"[DONE]")
	_, msg = fidelityStream(t, body, fidelityRequest)
	wantText(t, msg, "Hello, world", anthropic.StopReasonEndTurn)
}
