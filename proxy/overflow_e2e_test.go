package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/proxy/toopenai"
)

// overflowUpstream is a scripted upstream whose answer to each chat
// completion request is decided by answer; it keeps the request bodies.
type overflowUpstream struct {
	mu     sync.Mutex
	bodies [][]byte
}

func newOverflowUpstream(t *testing.T, answer func(n int, body []byte, w http.ResponseWriter)) (*overflowUpstream, string) {
	t.Helper()
	u := &overflowUpstream{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.bodies = append(u.bodies, b)
		n := len(u.bodies)
		u.mu.Unlock()
		answer(n, b, w)
	}))
	t.Cleanup(srv.Close)
	return u, srv.URL
}

func (u *overflowUpstream) requests() [][]byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([][]byte(nil), u.bodies...)
}

// writeJSONError answers status with body.
func writeJSONError(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// writeAnswer answers a chat completion with "Hello." as SSE when the
// request asked for a stream, as a chat.completion otherwise.
func writeAnswer(w http.ResponseWriter, body []byte) {
	if gjson.GetBytes(body, "stream").Bool() {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, sseBody(
			chunkJSON(`{"role":"assistant","content":"Hello."}`, `"stop"`),
			`{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":81126,"completion_tokens":2}}`,
			"[DONE]"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello."},"finish_reason":"stop"}],"usage":{"prompt_tokens":81126,"completion_tokens":2}}`)
}

// overflowTurn is a Claude Code turn asking for 32,000 output tokens.
func overflowTurn(stream bool) []byte {
	s := "false"
	if stream {
		s = "true"
	}
	return []byte(`{"model":"claude-sonnet-4-5","max_tokens":32000,"stream":` + s + `,
"tools":[{"name":"Bash","description":"run","input_schema":{"type":"object","properties":{"command":{"type":"string"}}}}],
"messages":[{"role":"user","content":"list files"}]}`)
}

// wantHello checks a 200 answer carrying the upstream's "Hello.".
func wantHello(t *testing.T, resp *http.Response, stream bool) {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if stream {
		evs := readEvents(t, resp.Body)
		data := checkGrammar(t, evs)
		for _, d := range data {
			if d["type"] == "content_block_delta" {
				if delta, _ := d["delta"].(map[string]any); delta["text"] == "Hello." {
					return
				}
			}
		}
		t.Fatalf("no Hello. in %v", names(evs))
	}
	var m struct {
		Content []struct{ Text string }
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil || len(m.Content) != 1 || m.Content[0].Text != "Hello." {
		t.Fatalf("answer %s", b)
	}
}

const openAIOverflow = `{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130532 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`

// TestContextOverflowAnthropicWording: an upstream's context-window error
// reaches Claude Code as Anthropic's own "prompt is too long: N tokens > M
// maximum" (400 invalid_request_error), which it parses to compact the
// conversation; without counts, the upstream's message follows "prompt is
// too long: ". Streamed and unary turns alike, both engines, and the
// upstream is asked once. Before, the client got the upstream's message,
// which Claude Code does not recognise.
func TestContextOverflowAnthropicWording(t *testing.T) {
	for _, c := range []struct{ name, body, want string }{
		{"counts", openAIOverflow, "prompt is too long: 130532 tokens > 128000 maximum"},
		{"no counts", `{"error":{"message":"Your input exceeds the context window of this model. Please adjust your input and try again.","type":"invalid_request_error","param":"input","code":"context_length_exceeded"}}`,
			"prompt is too long: Your input exceeds the context window of this model. Please adjust your input and try again."},
		{"vllm, prompt over the window", `{"object":"error","message":"This model's maximum context length is 32768 tokens. However, you requested 72000 tokens (40000 in the messages, 32000 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400}`,
			"prompt is too long: 40000 tokens > 32768 maximum"},
	} {
		up, url := newOverflowUpstream(t, func(_ int, _ []byte, w http.ResponseWriter) {
			writeJSONError(w, http.StatusBadRequest, c.body)
		})
		for _, eng := range engines() {
			r := newRigFor(t, eng, url, quietLog, nil)
			for _, stream := range []bool{true, false} {
				before := len(up.requests())
				resp := post(t, r.URL, "/v1/messages", overflowTurn(stream), nil)
				if resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("%s/%s stream=%v: status %d", c.name, eng, stream, resp.StatusCode)
				}
				typ, msg := errorBody(t, resp)
				if typ != errInvalidRequest || msg != c.want {
					t.Fatalf("%s/%s stream=%v: %s %q, want %q", c.name, eng, stream, typ, msg, c.want)
				}
				if n := len(up.requests()) - before; n != 1 {
					t.Fatalf("%s/%s stream=%v: upstream asked %d times", c.name, eng, stream, n)
				}
			}
		}
	}
}

// TestContextOverflowPassthroughUnchanged: on the OpenAI passthrough route
// the client is an OpenAI client: it gets the upstream's own error, byte
// for byte, and a completion-only overflow is not retried there.
func TestContextOverflowPassthroughUnchanged(t *testing.T) {
	for _, body := range []string{openAIOverflow, vllmTooLarge(32000, vllmPrompt)} {
		up, url := newOverflowUpstream(t, func(_ int, _ []byte, w http.ResponseWriter) {
			writeJSONError(w, http.StatusBadRequest, body)
		})
		for _, eng := range engines() {
			r := newRigFor(t, eng, url, quietLog, nil)
			before := len(up.requests())
			resp := post(t, r.URL, "/v1/chat/completions", []byte(`{"model":"gpt-4.1","max_tokens":32000,"messages":[{"role":"user","content":"hi"}]}`), nil)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || string(b) != body {
				t.Fatalf("%s: status %d body %s", eng, resp.StatusCode, b)
			}
			if n := len(up.requests()) - before; n != 1 {
				t.Fatalf("%s: upstream asked %d times", eng, n)
			}
		}
	}
}

// vllmWindow and vllmPrompt script a vLLM upstream whose 100,001-token
// window holds the turn's 81,126-token prompt but not with 32,000 tokens
// of completion; retryTokens is what ccproxy must ask for instead.
const (
	vllmWindow  = 100001
	vllmPrompt  = 81126
	retryTokens = vllmWindow - vllmPrompt - overflowMargin - vllmWindow/256
)

// vllmTooLarge is vLLM's refusal of max_tokens n for a prompt of p tokens.
func vllmTooLarge(n, p int64) string {
	s := func(v int64) string { return strconv.FormatInt(v, 10) }
	return `{"error":{"message":"'max_tokens' or 'max_completion_tokens' is too large: ` + s(n) +
		`. This model's maximum context length is 100001 tokens and your request has ` + s(p) + ` input tokens (` + s(n) +
		` > 100001 - ` + s(p) + `). (parameter=max_tokens, value=` + s(n) + `)","type":"BadRequestError","param":"max_tokens","code":400}}`
}

func jsonInt(v int64) string { return strconv.FormatInt(v, 10) }

// outputLimit is the request's max_tokens or max_completion_tokens.
func outputLimit(body []byte) int64 {
	r := gjson.GetManyBytes(body, "max_tokens", "max_completion_tokens")
	return r[0].Int() + r[1].Int()
}

// TestCompletionOverflowRetried: when the prompt fits the window and only
// the completion does not (Claude Code's 32k max_tokens on a 100k model),
// ccproxy sends the request once more with a max_tokens that fits, before
// anything reaches the client, which gets a normal answer. The retry
// differs from the first request only in that number; it counts in the
// metrics and is logged with its numbers. Reasoning models, which get
// max_completion_tokens, too. Before, the client got the upstream's 400.
func TestCompletionOverflowRetried(t *testing.T) {
	up, url := newOverflowUpstream(t, func(_ int, body []byte, w http.ResponseWriter) {
		if n := outputLimit(body); n+vllmPrompt > vllmWindow {
			writeJSONError(w, http.StatusBadRequest, vllmTooLarge(n, vllmPrompt))
			return
		}
		writeAnswer(w, body)
	})
	for _, model := range []string{"gpt-4.1", "o4-mini"} {
		for _, eng := range engines() {
			r := newRigFor(t, eng, url, func(c *Config, _ *engine.Config) {
				models, err := toopenai.NewModels(toopenai.ModelsConfig{Big: model, Small: model})
				if err != nil {
					t.Fatal(err)
				}
				c.Models = models
				c.Logger = c.Logger.Level(0) // info and up
			}, nil)
			for _, stream := range []bool{true, false} {
				before := len(up.requests())
				wantHello(t, post(t, r.URL, "/v1/messages", overflowTurn(stream), nil), stream)
				reqs := up.requests()[before:]
				if len(reqs) != 2 {
					t.Fatalf("%s/%s stream=%v: %d upstream requests, want 2", model, eng, stream, len(reqs))
				}
				if got := outputLimit(reqs[1]); got != retryTokens {
					t.Fatalf("%s/%s: retried with %d output tokens, want %d", model, eng, got, retryTokens)
				}
				key := "max_tokens"
				if model == "o4-mini" {
					key = "max_completion_tokens"
				}
				first := bytes.Replace(reqs[0], []byte(`"`+key+`":32000`), []byte(`"`+key+`":`+jsonInt(retryTokens)), 1)
				if !bytes.Equal(first, reqs[1]) {
					t.Fatalf("%s/%s: the retry differs from the first request in more than %s:\n%s\n%s", model, eng, key, reqs[0], reqs[1])
				}
			}
			s := r.Metrics.Snapshot()
			if s.Retries.Total != 2 || s.Retries.RequestsRetried != 2 || s.Retries.ByCause["context_overflow"] != 2 {
				t.Fatalf("%s/%s: retries %+v, want 2 (one per turn) by cause context_overflow", model, eng, s.Retries)
			}
			if logs := r.logs(); !strings.Contains(logs, `"retry_max_tokens":`+jsonInt(retryTokens)) ||
				!strings.Contains(logs, `"retry_cause":"context_overflow"`) {
				t.Fatalf("%s/%s: retry not logged with its numbers:\n%s", model, eng, logs)
			}
		}
	}
}

// TestCompletionOverflowRetriedOnce: an upstream that still refuses the
// smaller max_tokens (its first count of the prompt was short, as vLLM's
// "at least" ones are) is not asked a third time; the client gets the
// Anthropic wording of its second refusal, with prompt and completion
// together as the tokens to shed.
func TestCompletionOverflowRetriedOnce(t *testing.T) {
	const recounted = 95000
	up, url := newOverflowUpstream(t, func(_ int, body []byte, w http.ResponseWriter) {
		p := int64(vllmPrompt)
		if outputLimit(body) != 32000 {
			p = recounted
		}
		writeJSONError(w, http.StatusBadRequest, vllmTooLarge(outputLimit(body), p))
	})
	for _, eng := range engines() {
		r := newRigFor(t, eng, url, quietLog, nil)
		for _, stream := range []bool{true, false} {
			before := len(up.requests())
			resp := post(t, r.URL, "/v1/messages", overflowTurn(stream), nil)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("%s stream=%v: status %d", eng, stream, resp.StatusCode)
			}
			typ, msg := errorBody(t, resp)
			want := "prompt is too long: " + jsonInt(recounted+retryTokens) + " tokens > 100001 maximum"
			if typ != errInvalidRequest || msg != want {
				t.Fatalf("%s stream=%v: %s %q, want %q", eng, stream, typ, msg, want)
			}
			if n := len(up.requests()) - before; n != 2 {
				t.Fatalf("%s stream=%v: upstream asked %d times, want 2", eng, stream, n)
			}
		}
	}
}

// TestContextOverflowInUnaryAnswer: an upstream that answers a unary
// request 200 with an error object saying the window was exceeded gets
// the same Anthropic wording.
func TestContextOverflowInUnaryAnswer(t *testing.T) {
	_, url := newOverflowUpstream(t, func(_ int, _ []byte, w http.ResponseWriter) {
		writeJSONError(w, http.StatusOK, openAIOverflow)
	})
	r := newRigFor(t, "nethttp", url, quietLog, nil)
	resp := post(t, r.URL, "/v1/messages", overflowTurn(false), nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if typ, msg := errorBody(t, resp); typ != errInvalidRequest || msg != "prompt is too long: 130532 tokens > 128000 maximum" {
		t.Fatalf("%s %q", typ, msg)
	}
}

// vllmRefusal is vLLM's refusal of max_tokens n for a prompt of p tokens
// on a window of w tokens.
func vllmRefusal(n, p, w int64) string {
	return `{"error":{"message":"'max_tokens' or 'max_completion_tokens' is too large: ` + jsonInt(n) +
		`. This model's maximum context length is ` + jsonInt(w) + ` tokens and your request has ` + jsonInt(p) +
		` input tokens.","type":"BadRequestError","param":"max_tokens","code":400}}`
}

// TestCompletionOverflowRetriedOnFallback: a fallback model gets the
// request translated for itself, with the client's max_tokens (32,000),
// not the number an overflow retry patched in for the first model; when
// its smaller window refuses that, the completion-only overflow is retried
// there too, from the number its body holds.
func TestCompletionOverflowRetriedOnFallback(t *testing.T) {
	const altWindow = 90000
	altRetry := int64(altWindow - vllmPrompt - overflowMargin - altWindow/256)
	up, url := newOverflowUpstream(t, func(_ int, body []byte, w http.ResponseWriter) {
		n := outputLimit(body)
		switch model := gjson.GetBytes(body, "model").String(); {
		case model == "gpt-4.1" && n+vllmPrompt > vllmWindow:
			writeJSONError(w, http.StatusBadRequest, vllmTooLarge(n, vllmPrompt))
		case model == "gpt-4.1":
			writeJSONError(w, http.StatusServiceUnavailable, `{"error":{"message":"overloaded"}}`)
		case n+vllmPrompt > altWindow:
			writeJSONError(w, http.StatusBadRequest, vllmRefusal(n, vllmPrompt, altWindow))
		default:
			writeAnswer(w, body)
		}
	})
	r := newRigFor(t, "nethttp", url, func(c *Config, _ *engine.Config) {
		c.Logger = c.Logger.Level(1)
		c.MaxRetries = -1
		c.Fallbacks = map[string][]string{"gpt-4.1": {"alt"}}
	}, nil)
	wantHello(t, post(t, r.URL, "/v1/messages", overflowTurn(true), nil), true)
	var got []string
	for _, b := range up.requests() {
		got = append(got, gjson.GetBytes(b, "model").String()+":"+jsonInt(outputLimit(b)))
	}
	want := []string{"gpt-4.1:32000", "gpt-4.1:" + jsonInt(retryTokens), "alt:32000", "alt:" + jsonInt(altRetry)}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("upstream asked %v, want %v", got, want)
	}
}

// TestCompletionOverflowRetryFails: the retry's own failure reaches the
// client as that failure, not as an overflow: a 5xx (after the regular
// retries, which it gets) as api_error, a connection the upstream drops
// as a 502. Overflow refusals never open the circuit breaker: with a
// threshold of 1, turn after turn of them are still sent upstream.
func TestCompletionOverflowRetryFails(t *testing.T) {
	t.Run("5xx", func(t *testing.T) {
		up, url := newOverflowUpstream(t, func(_ int, body []byte, w http.ResponseWriter) {
			if n := outputLimit(body); n+vllmPrompt > vllmWindow {
				writeJSONError(w, http.StatusBadRequest, vllmTooLarge(n, vllmPrompt))
				return
			}
			writeJSONError(w, http.StatusInternalServerError, `{"error":{"message":"boom","type":"server_error"}}`)
		})
		r := newRigFor(t, "nethttp", url, func(c *Config, _ *engine.Config) { c.Logger = c.Logger.Level(1); c.MaxRetries = 1 }, nil)
		resp := post(t, r.URL, "/v1/messages", overflowTurn(true), nil)
		if resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if typ, msg := errorBody(t, resp); typ != errAPI || strings.Contains(msg, "prompt is too long") {
			t.Fatalf("%s %q", typ, msg)
		}
		if n := len(up.requests()); n != 3 { // the first, the overflow retry, its 5xx retry
			t.Fatalf("upstream asked %d times, want 3", n)
		}
	})
	t.Run("dropped", func(t *testing.T) {
		_, url := newOverflowUpstream(t, func(_ int, body []byte, w http.ResponseWriter) {
			if n := outputLimit(body); n+vllmPrompt > vllmWindow {
				writeJSONError(w, http.StatusBadRequest, vllmTooLarge(n, vllmPrompt))
				return
			}
			panic(http.ErrAbortHandler)
		})
		r := newRigFor(t, "nethttp", url, func(c *Config, _ *engine.Config) { c.Logger = c.Logger.Level(1); c.MaxRetries = -1 }, nil)
		resp := post(t, r.URL, "/v1/messages", overflowTurn(false), nil)
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if typ, msg := errorBody(t, resp); typ != errAPI || strings.Contains(msg, "prompt is too long") {
			t.Fatalf("%s %q", typ, msg)
		}
	})
	t.Run("breaker", func(t *testing.T) {
		up, url := newOverflowUpstream(t, func(_ int, _ []byte, w http.ResponseWriter) {
			writeJSONError(w, http.StatusBadRequest, vllmTooLarge(32000, 99000))
		})
		r := newRigFor(t, "nethttp", url, func(c *Config, _ *engine.Config) { c.Logger = c.Logger.Level(1); c.BreakerThreshold = 1 }, nil)
		for i := range 3 {
			resp := post(t, r.URL, "/v1/messages", overflowTurn(true), nil)
			if typ, msg := errorBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(msg, "prompt is too long: ") {
				t.Fatalf("turn %d: %d %s %q", i, resp.StatusCode, typ, msg)
			}
		}
		if n := len(up.requests()); n != 3 {
			t.Fatalf("upstream asked %d times, want 3", n)
		}
	})
}
