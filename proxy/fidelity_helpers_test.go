package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
)

// fidelityRequest is a streamed Claude Code style turn with thinking on and
// one tool.
const fidelityRequest = `{"model":"claude-sonnet-4-5","max_tokens":2048,"stream":true,
"thinking":{"type":"enabled","budget_tokens":1024},
"tools":[{"name":"Bash","description":"run","input_schema":{"type":"object","properties":{"command":{"type":"string"}}}},
{"name":"Read","description":"read","input_schema":{"type":"object","properties":{"path":{"type":"string"}}}}],
"messages":[{"role":"user","content":"list files"}]}`

// scriptedUpstream answers every chat completion with body, as contentType.
func scriptedUpstream(t *testing.T, contentType, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", contentType)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// sseBody frames each payload as "data: <payload>\n\n".
func sseBody(payloads ...string) string {
	var b strings.Builder
	for _, p := range payloads {
		b.WriteString("data: ")
		b.WriteString(p)
		b.WriteString("\n\n")
	}
	return b.String()
}

// fidelityStream sends req through ccproxy (net/http engine) to an upstream
// answering body (SSE, or a chat.completion JSON), checks the Anthropic event grammar, and returns the
// events and the message the official SDK accumulates from them.
func fidelityStream(t *testing.T, body, req string) ([]sseEvent, anthropic.Message) {
	t.Helper()
	ct := "text/event-stream"
	if strings.HasPrefix(body, "{") { // an upstream that ignores stream:true
		ct = "application/json"
	}
	up := scriptedUpstream(t, ct, body)
	r := newRigFor(t, "nethttp", up, quietLog, nil)
	resp := post(t, r.URL, "/v1/messages", []byte(req), nil)
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	evs := readEvents(t, resp.Body)
	checkGrammar(t, evs)
	var msg anthropic.Message
	for _, ev := range evs {
		var u anthropic.MessageStreamEventUnion
		if err := json.Unmarshal([]byte(ev.Data), &u); err != nil {
			t.Fatalf("SDK cannot decode %s: %v", ev.Data, err)
		}
		if err := msg.Accumulate(u); err != nil {
			t.Fatalf("SDK cannot accumulate %s: %v", ev.Data, err)
		}
	}
	return evs, msg
}

// fidelityUnary sends req with "stream":false to an upstream answering the
// chat.completion body and decodes the answer with the SDK's Message.
func fidelityUnary(t *testing.T, body, req string) anthropic.Message {
	t.Helper()
	up := scriptedUpstream(t, "application/json", body)
	r := newRigFor(t, "nethttp", up, quietLog, nil)
	req = strings.Replace(req, `"stream":true`, `"stream":false`, 1)
	resp := post(t, r.URL, "/v1/messages", []byte(req), nil)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var msg anthropic.Message
	if err := json.Unmarshal(b, &msg); err != nil {
		t.Fatalf("SDK cannot decode %s: %v", b, err)
	}
	return msg
}
