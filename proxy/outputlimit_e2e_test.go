package proxy

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/proxy/toopenai"
)

// limitedUpstream answers like a provider whose model outputs at most
// limit tokens: a request asking for more is refused with refusal, as the
// real provider words it, before anything is generated.
func limitedUpstream(t *testing.T, limit int64, refusal string) (*overflowUpstream, string) {
	return newOverflowUpstream(t, func(_ int, body []byte, w http.ResponseWriter) {
		if outputLimit(body) > limit {
			writeJSONError(w, http.StatusBadRequest, refusal)
			return
		}
		writeAnswer(w, body)
	})
}

// withModel serves every Claude model name with the upstream model, at
// info log level (the learned limit is logged at info).
func withModel(t *testing.T, model string) func(*Config, *engine.Config) {
	return func(c *Config, _ *engine.Config) {
		models, err := toopenai.NewModels(toopenai.ModelsConfig{Big: model, Small: model})
		if err != nil {
			t.Fatal(err)
		}
		c.Models = models
		c.Logger = c.Logger.Level(0)
	}
}

// TestOutputLimitLearned: an upstream model that refuses Claude Code's
// 32,000 max_tokens, saying its limit, answers the first turn after one
// retry with max_tokens = that limit (the retry differs from the first
// request only there, max_tokens or max_completion_tokens as sent); the
// limit is learned, so the second turn is sent with it at once (the
// upstream sees one request) and nothing is retried again. OpenAI, DeepSeek
// and Groq wordings, streamed then unary turns, both engines. The retry
// is counted and logged once. Before, every turn was answered 400.
func TestOutputLimitLearned(t *testing.T) {
	for _, c := range []struct {
		name, model, key, refusal string
		limit                     int64
	}{
		{"openai", "qwen3-coder", "max_tokens", openAIOutputLimit, 16384},
		{"deepseek", "deepseek-v3.2-exp", "max_tokens", deepSeekLimit, 8192},
		{"groq", "openai/gpt-oss-120b", "max_tokens", groqLimit, 8192},
		{"reasoning model", "o4-mini", "max_completion_tokens", strings.ReplaceAll(openAIOutputLimit, "max_tokens", "max_completion_tokens"), 16384},
	} {
		up, url := limitedUpstream(t, c.limit, c.refusal)
		for _, eng := range engines() {
			r := newRigFor(t, eng, url, withModel(t, c.model), nil)
			before := len(up.requests())
			wantHello(t, post(t, r.URL, "/v1/messages", overflowTurn(true), nil), true)
			reqs := up.requests()[before:]
			if len(reqs) != 2 {
				t.Fatalf("%s/%s: first turn made %d upstream requests, want 2", c.name, eng, len(reqs))
			}
			if gjson.GetBytes(reqs[0], c.key).Int() != 32000 || gjson.GetBytes(reqs[1], c.key).Int() != c.limit {
				t.Fatalf("%s/%s: sent %s then %s", c.name, eng, reqs[0], reqs[1])
			}
			patched := bytes.Replace(reqs[0], []byte(`"`+c.key+`":32000`), []byte(`"`+c.key+`":`+jsonInt(c.limit)), 1)
			if !bytes.Equal(patched, reqs[1]) {
				t.Fatalf("%s/%s: the retry differs from the first request in more than %s:\n%s\n%s", c.name, eng, c.key, reqs[0], reqs[1])
			}

			before = len(up.requests())
			wantHello(t, post(t, r.URL, "/v1/messages", overflowTurn(false), nil), false)
			reqs = up.requests()[before:]
			if len(reqs) != 1 || gjson.GetBytes(reqs[0], c.key).Int() != c.limit {
				t.Fatalf("%s/%s: second turn made %d requests (%s), want 1 with the learned limit", c.name, eng, len(reqs), reqs)
			}

			if s := r.Metrics.Snapshot(); s.Retries.Total != 1 || s.Retries.RequestsRetried != 1 || s.Retries.ByCause["output_limit"] != 1 {
				t.Fatalf("%s/%s: retries %+v, want 1", c.name, eng, s.Retries)
			}
			logs := r.logs()
			if n := strings.Count(logs, "learned the upstream model's output limit"); n != 1 ||
				!strings.Contains(logs, `"model":"`+c.model+`","max_output_tokens":`+jsonInt(c.limit)) {
				t.Fatalf("%s/%s: learned limit logged %d times, want once with model and limit:\n%s", c.name, eng, n, logs)
			}
			if !strings.Contains(logs, `"retry_cause":"output_limit"`) {
				t.Fatalf("%s/%s: retry cause not logged:\n%s", c.name, eng, logs)
			}
		}
	}
}

// TestOutputLimitWithoutNumber: a refusal that states no limit is not
// retried and nothing is learned: the client gets the upstream's 400 as
// before, on every turn.
func TestOutputLimitWithoutNumber(t *testing.T) {
	const refusal = `{"error":{"message":"max_tokens is too large","type":"invalid_request_error","param":"max_tokens","code":"invalid_value"}}`
	up, url := limitedUpstream(t, 8192, refusal)
	for _, eng := range engines() {
		r := newRigFor(t, eng, url, withModel(t, "glm-4.6"), nil)
		for _, stream := range []bool{true, false} {
			before := len(up.requests())
			resp := post(t, r.URL, "/v1/messages", overflowTurn(stream), nil)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("%s stream=%v: status %d", eng, stream, resp.StatusCode)
			}
			if typ, msg := errorBody(t, resp); typ != errInvalidRequest || !strings.Contains(msg, "max_tokens is too large") {
				t.Fatalf("%s stream=%v: %s %q", eng, stream, typ, msg)
			}
			if n := len(up.requests()) - before; n != 1 {
				t.Fatalf("%s stream=%v: upstream asked %d times", eng, stream, n)
			}
		}
		if got := r.H.cfg.Models.LearnedMaxOutputTokens("glm-4.6"); got != 0 {
			t.Fatalf("%s: learned %d from a refusal without a number", eng, got)
		}
	}
}

// TestOverflowNotLearned: a completion-only context overflow (vLLM's
// "'max_tokens' ... is too large: N. This model's maximum context length
// is ...") is retried as an overflow and teaches no output limit: it
// depends on the prompt, not on the model.
func TestOverflowNotLearned(t *testing.T) {
	_, url := newOverflowUpstream(t, func(_ int, body []byte, w http.ResponseWriter) {
		if n := outputLimit(body); n+vllmPrompt > vllmWindow {
			writeJSONError(w, http.StatusBadRequest, vllmTooLarge(n, vllmPrompt))
			return
		}
		writeAnswer(w, body)
	})
	r := newRigFor(t, "nethttp", url, withModel(t, "qwen3-coder"), nil)
	wantHello(t, post(t, r.URL, "/v1/messages", overflowTurn(true), nil), true)
	if got := r.H.cfg.Models.MaxOutputTokens("qwen3-coder"); got != 0 {
		t.Fatalf("an overflow taught an output limit of %d", got)
	}
	if s := r.Metrics.Snapshot(); s.Retries.ByCause["context_overflow"] != 1 {
		t.Fatalf("retries %+v, want one context_overflow", s.Retries)
	}
}

// TestOutputLimitThenOverflow: the retry with the stated limit can still
// overflow the context window with a long prompt; that overflow is then
// retried as one (a third request, with a max_tokens that fits), and the
// model's output limit stays learned.
func TestOutputLimitThenOverflow(t *testing.T) {
	const limit = 40000
	up, url := newOverflowUpstream(t, func(_ int, body []byte, w http.ResponseWriter) {
		n := outputLimit(body)
		switch {
		case n > limit:
			writeJSONError(w, http.StatusBadRequest, strings.ReplaceAll(groqLimit, "8192", strconv.Itoa(limit)))
		case n+vllmPrompt > vllmWindow:
			writeJSONError(w, http.StatusBadRequest, vllmTooLarge(n, vllmPrompt))
		default:
			writeAnswer(w, body)
		}
	})
	r := newRigFor(t, "nethttp", url, withModel(t, "kimi-k2"), nil)
	turn := bytes.Replace(overflowTurn(true), []byte(`"max_tokens":32000`), []byte(`"max_tokens":64000`), 1)
	wantHello(t, post(t, r.URL, "/v1/messages", turn, nil), true)
	reqs := up.requests()
	if len(reqs) != 3 || outputLimit(reqs[0]) != 64000 || outputLimit(reqs[1]) != limit || outputLimit(reqs[2]) != retryTokens {
		t.Fatalf("%d requests, max_tokens %v", len(reqs), func() (l []int64) {
			for _, b := range reqs {
				l = append(l, outputLimit(b))
			}
			return
		}())
	}
	if got := r.H.cfg.Models.MaxOutputTokens("kimi-k2"); got != limit {
		t.Fatalf("learned %d, want %d", got, limit)
	}
}

// TestOutputLimitFallbackModel: a fallback model, translated for itself,
// learns its own limit and gets it; the model that failed over learns
// nothing. The second turn reaches the fallback clamped at once.
func TestOutputLimitFallbackModel(t *testing.T) {
	up, url := newOverflowUpstream(t, func(_ int, body []byte, w http.ResponseWriter) {
		switch model := gjson.GetBytes(body, "model").Str; {
		case model == "qwen3-coder":
			w.Header().Set("Retry-After", "600")
			writeJSONError(w, http.StatusTooManyRequests, `{"error":{"message":"rate limited","type":"rate_limit_error"}}`)
		case outputLimit(body) > 8192:
			writeJSONError(w, http.StatusBadRequest, deepSeekLimit)
		default:
			writeAnswer(w, body)
		}
	})
	for _, eng := range engines() {
		r := newRigFor(t, eng, url, func(c *Config, ec *engine.Config) {
			withModel(t, "qwen3-coder")(c, ec)
			c.Fallbacks = map[string][]string{"qwen3-coder": {"glm-4.6"}}
			c.MaxRetries = -1
		}, nil)
		for turn, want := range []int{3, 2} { // 429, refusal, retry; then 429, clamped
			before := len(up.requests())
			wantHello(t, post(t, r.URL, "/v1/messages", overflowTurn(turn == 0), nil), turn == 0)
			reqs := up.requests()[before:]
			if len(reqs) != want {
				t.Fatalf("%s turn %d: %d upstream requests, want %d", eng, turn, len(reqs), want)
			}
			if last := reqs[len(reqs)-1]; gjson.GetBytes(last, "model").Str != "glm-4.6" || outputLimit(last) != 8192 {
				t.Fatalf("%s turn %d: answered by %s", eng, turn, last)
			}
		}
		m := r.H.cfg.Models
		if m.MaxOutputTokens("glm-4.6") != 8192 || m.MaxOutputTokens("qwen3-coder") != 0 {
			t.Fatalf("%s: learned %d for the fallback, %d for the primary", eng, m.MaxOutputTokens("glm-4.6"), m.MaxOutputTokens("qwen3-coder"))
		}
	}
}

// TestOutputLimitImplausible: a refusal whose stated limit cannot be the
// reason the request was refused, or is too small to trust, is neither
// retried nor learned; the client gets the upstream's 400 as it is, after
// one upstream request. "[1, 1]" (a hostile or buggy upstream) used to
// be retried with max_tokens 1 (a one-token answer) and learned, clamping
// every later request; a limit of 8192 stated to a request that asked for
// 4096 (so the refusal was about something else) used to be learned,
// clamping later 32,000 requests to 8192.
func TestOutputLimitImplausible(t *testing.T) {
	for _, c := range []struct {
		name    string
		refusal string
		sent    string
	}{
		{"limit 1", strings.ReplaceAll(deepSeekLimit, "8192", "1"), "32000"},
		{"limit 1023", strings.ReplaceAll(deepSeekLimit, "8192", "1023"), "32000"},
		{"limit above what was sent", deepSeekLimit, "4096"},
	} {
		up, url := newOverflowUpstream(t, func(_ int, _ []byte, w http.ResponseWriter) {
			writeJSONError(w, http.StatusBadRequest, c.refusal)
		})
		r := newRigFor(t, "nethttp", url, withModel(t, "glm-4.6"), nil)
		for _, stream := range []bool{true, false} {
			before := len(up.requests())
			turn := bytes.Replace(overflowTurn(stream), []byte(`"max_tokens":32000`), []byte(`"max_tokens":`+c.sent), 1)
			resp := post(t, r.URL, "/v1/messages", turn, nil)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("%s stream=%v: status %d", c.name, stream, resp.StatusCode)
			}
			if typ, msg := errorBody(t, resp); typ != errInvalidRequest || !strings.Contains(msg, "range of max_tokens") {
				t.Fatalf("%s stream=%v: %s %q", c.name, stream, typ, msg)
			}
			if reqs := up.requests()[before:]; len(reqs) != 1 {
				t.Fatalf("%s stream=%v: %d upstream requests, want 1 (max_tokens %d, then %d)", c.name, stream, len(reqs), outputLimit(reqs[0]), outputLimit(reqs[len(reqs)-1]))
			}
		}
		if got := r.H.cfg.Models.MaxOutputTokens("glm-4.6"); got != 0 {
			t.Fatalf("%s: learned %d", c.name, got)
		}
		if s := r.Metrics.Snapshot(); s.Retries.Total != 0 {
			t.Fatalf("%s: retries %+v", c.name, s.Retries)
		}
	}
}
