package proxy

import (
	"net/http"
	"testing"
)

// Upstream refusals of a max_tokens above the model's output limit, in the
// providers' own words (sources in outputlimit.go).
const (
	openAIOutputLimit = `{"error":{"message":"max_tokens is too large: 32000. This model supports at most 16384 completion tokens, whereas you provided 32000.","type":"invalid_request_error","param":"max_tokens","code":"invalid_value"}}`
	deepSeekLimit     = `{"error":{"message":"Invalid max_tokens value, the valid range of max_tokens is [1, 8192]","type":"invalid_request_error","param":null,"code":"invalid_request_error"}}`
	groqLimit         = "{\"error\":{\"message\":\"`max_tokens` must be less than or equal to `8192`, the maximum value for `max_tokens` is less than the `context_window` for this model\",\"type\":\"invalid_request_error\"}}"
)

// TestParseOutputLimit: the limit each provider's refusal states; none
// from a context-window overflow (nor the reverse: an output-limit refusal
// is no overflow), from a refusal without a number, or from a status that
// cannot carry a refusal of the request.
func TestParseOutputLimit(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		body   string
		want   int
	}{
		{"openai", 400, openAIOutputLimit, 16384},
		{"openai max_completion_tokens", 400, `{"error":{"message":"max_completion_tokens is too large: 128000. This model supports at most 100000 completion tokens, whereas you provided 128000.","type":"invalid_request_error","param":"max_completion_tokens","code":"invalid_value"}}`, 100000},
		{"gateway, text in param", 400, `{"error":{"message":"Param Incorrect","type":"upstream_error","param":"max_tokens is too large: 1048576. This model supports at most 131072 completion tokens, whereas you provided 1048576.","code":"400"}}`, 131072},
		{"deepseek", 400, deepSeekLimit, 8192},
		{"dashscope qwen", 400, `{"error":{"message":"<400> InternalError.Algo.InvalidParameter: Range of max_tokens should be [1, 8192]","type":"invalid_request_error","param":null,"code":"invalid_parameter_error"}}`, 8192},
		{"groq", 400, groqLimit, 8192},
		{"volcengine", 400, "{\"error\":{\"code\":\"InvalidParameter\",\"message\":\"The parameter `max_completion_tokens` specified in the request are not valid: integer above maximum value, expected a value <= 12288, but got 32000 instead. Request id: 0217\",\"param\":\"max_completion_tokens\",\"type\":\"BadRequest\"}}", 12288},
		{"gemini exclusive bound", 400, `[{"error":{"code":400,"message":"Unable to submit request because it has a maxOutputTokens value of 128000 but the supported range is from 1 (inclusive) to 65536 (exclusive). Update the value and try again.","status":"INVALID_ARGUMENT"}}]`, 65535},
		{"anthropic via gateway", 400, `{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: 128001 > 64000, which is the maximum allowed number of output tokens for claude-opus-4-5-20251101"}}`, 64000},
		{"bedrock", 400, `{"message":"The maximum tokens you requested exceeds the model limit of 32768"}`, 32768},
		{"422", 422, deepSeekLimit, 8192},
		{"plain text", 400, "Invalid max_tokens value, the valid range of max_tokens is [1, 4,096]", 4096},

		{"openai overflow", 400, openAIOverflow, 0},
		{"vllm completion overflow", 400, vllmTooLarge(32000, vllmPrompt), 0},
		{"together overflow", 422, "{\"error\":{\"message\":\"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 32769. Given: 1000 `inputs` tokens and 32000 `max_new_tokens`\",\"type\":\"invalid_request_error\"}}", 0},
		{"fireworks unary limit", 400, `{"error":{"object":"error","type":"invalid_request_error","message":"Requests with max_tokens > 4096 must have stream=true"}}`, 0},
		{"no number", 400, `{"error":{"message":"max_tokens is too large","type":"invalid_request_error","param":"max_tokens","code":"invalid_value"}}`, 0},
		{"bad tool schema", 400, `{"error":{"message":"Invalid schema for function 'Bash': 8192 is not of type 'object'.","type":"invalid_request_error"}}`, 0},
		{"500", 500, openAIOutputLimit, 0},
		{"429", 429, deepSeekLimit, 0},
		{"200", 200, openAIOutputLimit, 0},
	} {
		if got := parseOutputLimit(c.status, []byte(c.body)); got != c.want {
			t.Errorf("%s: parseOutputLimit = %d; want %d", c.name, got, c.want)
		}
		if c.want > 0 {
			if _, ok := parseContextOverflow(c.status, []byte(c.body)); ok {
				t.Errorf("%s: an output-limit refusal taken for a context overflow", c.name)
			}
		}
	}
}

// TestSetMaxTokensFromOutputLimit: the retry patches the number the
// request sent, whichever of the two fields holds it, and nothing else.
func TestSetMaxTokensFromOutputLimit(t *testing.T) {
	for _, body := range []string{
		`{"model":"m","max_tokens":32000,"stream":true}`,
		`{"model":"m","max_completion_tokens":32000,"stream":true}`,
	} {
		b := []byte(body)
		sent := sentMaxTokens(b)
		got, ok := setMaxTokens(b, sent, parseOutputLimit(http.StatusBadRequest, []byte(deepSeekLimit)))
		if !ok || sentMaxTokens(got) != 8192 || len(got) != len(body)-1 {
			t.Errorf("%s: patched %v into %s", body, ok, got)
		}
	}
}
