package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tidwall/gjson"
)

// outputLimitUpstream is an OpenAI-compatible upstream whose model outputs
// at most limit tokens: it refuses a larger max_tokens in DeepSeek's words
// and otherwise answers "Hello from a small model." (streamed or not).
type outputLimitUpstream struct {
	limit   int64
	mu      sync.Mutex
	sent    []int64 // max_tokens of every request, in order
	refused int
}

func (u *outputLimitUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	n := gjson.GetBytes(body, "max_tokens").Int() + gjson.GetBytes(body, "max_completion_tokens").Int()
	u.mu.Lock()
	u.sent = append(u.sent, n)
	if n > u.limit {
		u.refused++
	}
	u.mu.Unlock()
	if n > u.limit {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"Invalid max_tokens value, the valid range of max_tokens is [1, 8192]","type":"invalid_request_error","param":null,"code":"invalid_request_error"}}`)
		return
	}
	const text = "Hello from a small model."
	if !gjson.GetBytes(body, "stream").Bool() {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"`+text+`"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":6}}`)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	for _, ev := range []string{
		`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"` + text + `"},"finish_reason":null}]}`,
		`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
		`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":6}}`,
		`[DONE]`,
	} {
		io.WriteString(w, "data: "+ev+"\n\n")
	}
}

// TestClaudeCodeCLIOutputLimit runs the real Claude Code CLI against
// ccproxy whose upstream model refuses max_tokens above 8192 (Claude Code
// asks for 32,000 or more) and is in no table: the turn succeeds, the
// upstream refuses once, and every later request is sent with the learned
// 8192 at once. Before, every turn failed with the upstream's 400.
func TestClaudeCodeCLIOutputLimit(t *testing.T) {
	claude := claudeBinary(t)
	up := &outputLimitUpstream{limit: 8192}
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()

	srv := startServer(t, buildBinary(t, ""), "OPENAI_BASE_URL="+upSrv.URL+"/v1", "OPENAI_API_KEY=sk-test",
		"BIG_MODEL_NAME=qwen3-coder", "MIDDLE_MODEL_NAME=qwen3-coder", "SMALL_MODEL_NAME=qwen3-coder",
		"MODEL_MAP=", "MODEL_MAX_OUTPUT_TOKENS=")
	base, logs := srv.base, srv.logs

	for turn := range 2 {
		res := runClaude(t, claude, base, logs, "say hello", "--tools", "")
		if res.IsError || res.StopReason != "end_turn" || !strings.Contains(res.Result, "Hello from a small model.") {
			t.Fatalf("turn %d: claude result %+v\nccproxy log:\n%s", turn, res, logs.String())
		}
	}
	up.mu.Lock()
	sent, refused := append([]int64(nil), up.sent...), up.refused
	up.mu.Unlock()
	if refused != 1 {
		t.Fatalf("upstream refused %d requests (max_tokens sent %v), want 1: the limit was not learned\nccproxy log:\n%s", refused, sent, logs.String())
	}
	if l := logs.String(); !strings.Contains(l, `"model":"qwen3-coder","max_output_tokens":8192`) {
		t.Fatalf("learned limit not logged:\n%s", l)
	}
	t.Logf("max_tokens sent upstream, in order: %v", sent)
}
