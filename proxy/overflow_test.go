package proxy

import (
	"strconv"
	"testing"

	"github.com/tidwall/gjson"
)

// overflowCase is an upstream error body and what parseContextOverflow must
// read from it.
type overflowCase struct {
	name   string
	status int
	body   string
	want   contextOverflow // Message is not compared
	anth   string          // the Anthropic message expected
}

var overflowCases = []overflowCase{
	{"openai", 400,
		`{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130532 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`,
		contextOverflow{Limit: 128000, Prompt: 130532},
		"prompt is too long: 130532 tokens > 128000 maximum"},
	{"openai functions", 400,
		`{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens (8500 in the messages, 500 in the functions). Please reduce the length of the messages or functions.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`,
		contextOverflow{Limit: 8192, Prompt: 9000},
		"prompt is too long: 9000 tokens > 8192 maximum"},
	{"vllm deepseek with completion", 400,
		`{"error":{"message":"This model's maximum context length is 131072 tokens. However, you requested 139162 tokens (130970 in the messages, 8192 in the completion). Please reduce the length of the messages or completion.","type":"invalid_request_error","param":null,"code":"invalid_request_error"}}`,
		contextOverflow{Limit: 131072, Prompt: 130970, Completion: 8192, Requested: 139162},
		"prompt is too long: 139162 tokens > 131072 maximum"},
	{"vllm object error", 400,
		`{"object":"error","message":"This model's maximum context length is 6048 tokens. However, you requested 6616 tokens (568 in the messages, 6048 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400}`,
		contextOverflow{Limit: 6048, Prompt: 568, Completion: 6048, Requested: 6616},
		"prompt is too long: 6616 tokens > 6048 maximum"},
	{"vllm max_tokens too large", 400,
		`{"error":{"message":"'max_tokens' or 'max_completion_tokens' is too large: 32000. This model's maximum context length is 100001 tokens and your request has 81126 input tokens (32000 > 100001 - 81126). (parameter=max_tokens, value=32000)","type":"BadRequestError","param":"max_tokens","code":400}}`,
		contextOverflow{Limit: 100001, Prompt: 81126, Completion: 32000, Requested: 113126},
		// Room for a quarter of the window, 25,000 tokens, not all 32,000.
		"prompt is too long: 106126 tokens > 100001 maximum"},
	{"vllm max_tokens near the window", 400,
		`{"error":{"message":"'max_tokens' or 'max_completion_tokens' is too large: 32000. This model's maximum context length is 32768 tokens and your request has 31800 input tokens (32000 > 32768 - 31800). (parameter=max_tokens, value=32000)","type":"BadRequestError","param":"max_tokens","code":400}}`,
		contextOverflow{Limit: 32768, Prompt: 31800, Completion: 32000, Requested: 63800},
		// Not 63800: that asks Claude Code to shed 31,032 of 31,800 tokens.
		"prompt is too long: 39992 tokens > 32768 maximum"},
	{"vertex gemini", 400,
		`[{"error":{"code":400,"message":"Unable to submit request because the input token count is 32825 but model only supports up to 32768. Reduce the input token count and try again.","status":"INVALID_ARGUMENT"}}]`,
		contextOverflow{Limit: 32768, Prompt: 32825},
		"prompt is too long: 32825 tokens > 32768 maximum"},
	{"vllm output tokens", 400,
		`{"error":{"message":"This model's maximum context length is 32768 tokens. However, you requested 32000 output tokens and your prompt contains at least 1000 input tokens, for a total of at least 33000 tokens. Please reduce the length of the input prompt or the number of requested output tokens.","type":"BadRequestError","param":"input_tokens","code":400}}`,
		contextOverflow{Limit: 32768, Prompt: 1000, Completion: 32000, Requested: 33000},
		"prompt is too long: 33000 tokens > 32768 maximum"},
	{"vllm prompt over window", 400,
		`{"error":{"message":"This model's maximum context length is 32768 tokens. However, your request has 40000 input tokens. Please reduce the length of the input messages.","type":"BadRequestError","param":"input_tokens","code":400}}`,
		contextOverflow{Limit: 32768, Prompt: 40000},
		"prompt is too long: 40000 tokens > 32768 maximum"},
	{"openrouter", 400,
		`{"error":{"message":"This endpoint's maximum context length is 200000 tokens. However, you requested about 210000 tokens (190000 of text input, 20000 in the output). Please reduce the length of either one, or use the \"middle-out\" transform to compress your prompt automatically.","code":400}}`,
		contextOverflow{Limit: 200000, Prompt: 190000, Completion: 20000, Requested: 210000},
		"prompt is too long: 210000 tokens > 200000 maximum"},
	{"openai older wording", 400,
		`{"error":{"message":"This model's maximum context length is 8192 tokens, however you requested 8977 tokens (8977 in your prompt; 0 for the completion). Please reduce your prompt; or completion length.","type":"invalid_request_error","param":null,"code":null}}`,
		contextOverflow{Limit: 8192, Prompt: 8977, Requested: 8977},
		"prompt is too long: 8977 tokens > 8192 maximum"},
	{"gemini", 400,
		`[{"error":{"code":400,"message":"The input token count (1234567) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}]`,
		contextOverflow{Limit: 1048576, Prompt: 1234567},
		"prompt is too long: 1234567 tokens > 1048576 maximum"},
	{"mistral", 400,
		`{"object":"error","message":"Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum context length","type":"invalid_request_message_error","param":null,"code":"3051"}`,
		contextOverflow{Limit: 32768, Prompt: 40000},
		"prompt is too long: 40000 tokens > 32768 maximum"},
	{"llama.cpp", 400,
		`{"error":{"code":400,"message":"the request exceeds the available context size, try increasing the context size or enable context shift","type":"exceed_context_size_error","n_prompt_tokens":40000,"n_ctx":32768}}`,
		contextOverflow{Limit: 32768, Prompt: 40000},
		"prompt is too long: 40000 tokens > 32768 maximum"},
	{"llama.cpp older", 400,
		`{"error":{"code":400,"message":"the request exceeds the available context size, try increasing the context size or enable context shift","type":"invalid_request_error"}}`,
		contextOverflow{},
		"prompt is too long: the request exceeds the available context size, try increasing the context size or enable context shift"},
	{"openai without numbers", 400,
		`{"error":{"message":"Your input exceeds the context window of this model. Please adjust your input and try again.","type":"invalid_request_error","param":"input","code":"context_length_exceeded"}}`,
		contextOverflow{},
		"prompt is too long: Your input exceeds the context window of this model. Please adjust your input and try again."},
	{"code only", 400,
		`{"error":{"message":"Bad request","type":"invalid_request_error","code":"CONTEXT_LENGTH_EXCEEDED"}}`,
		contextOverflow{},
		"prompt is too long: Bad request"},
	{"tgi 422", 422,
		"{\"error\":\"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens and 1000 `max_new_tokens`\",\"error_type\":\"validation\"}",
		contextOverflow{Limit: 4096, Prompt: 4000, Completion: 1000, Requested: 5000},
		"prompt is too long: 5000 tokens > 4096 maximum"},
	{"413 plain text", 413,
		"This model's maximum context length is 65,536 tokens. However, your messages resulted in 70,001 tokens.",
		contextOverflow{Limit: 65536, Prompt: 70001},
		"prompt is too long: 70001 tokens > 65536 maximum"},
	{"anthropic wording", 400,
		`{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}`,
		contextOverflow{Limit: 200000, Prompt: 210000},
		"prompt is too long: 210000 tokens > 200000 maximum"},
	{"error object in a 200 answer", 200,
		`{"error":{"message":"This model's maximum context length is 16384 tokens. However, your messages resulted in 20000 tokens.","code":"context_length_exceeded"}}`,
		contextOverflow{Limit: 16384, Prompt: 20000},
		"prompt is too long: 20000 tokens > 16384 maximum"},
}

// notOverflowCases are errors that must not be taken for an overflow.
var notOverflowCases = []struct {
	name   string
	status int
	body   string
}{
	{"invalid tool schema", 400, `{"error":{"message":"Invalid schema for function 'Bash': In context=(), 'required' is required to be supplied and to be an array including every key in properties.","type":"invalid_request_error","param":"tools[0].function.parameters","code":"invalid_function_parameters"}}`},
	{"max_tokens above the model's output limit", 400, `{"error":{"message":"max_tokens is too large: 32000. This model supports at most 16384 completion tokens, whereas you provided 32000.","type":"invalid_request_error","param":"max_tokens","code":"invalid_value"}}`},
	{"rate limit", 429, `{"error":{"message":"Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000, Used 29000, Requested 5000.","type":"tokens","code":"rate_limit_exceeded"}}`},
	{"groq 413 tokens per minute", 413, `{"error":{"message":"Request too large for model llama-3.3-70b in organization org_1 on tokens per minute (TPM): Limit 6000, Requested 12000, please reduce your message size and try again.","type":"tokens","code":"rate_limit_exceeded"}}`},
	{"overflow wording on a 500", 500, `{"error":{"message":"This model's maximum context length is 128000 tokens.","code":"context_length_exceeded"}}`},
	{"string too long", 400, `{"error":{"message":"Invalid 'messages[1].content': string too long. Expected a string with maximum length 10485760, but got a string with length 11000000 instead.","type":"invalid_request_error","param":"messages[1].content","code":"string_above_max_length"}}`},
	{"model not found", 404, `{"error":{"message":"The model gpt-9 does not exist","code":"model_not_found"}}`},
	{"ordinary 400", 400, `{"error":{"message":"Invalid value for 'tool_choice': 'auto' is not one of ...","type":"invalid_request_error"}}`},
	{"empty", 400, ``},
	{"output limit, 'only supports up to'", 400, `{"error":{"message":"max_tokens (32000) is too large, but model only supports up to 8192 output tokens","type":"invalid_request_error"}}`},
	{"200 answer", 200, `{"id":"x","choices":[{"message":{"content":"the maximum context length is 128000 tokens"}}]}`},
}

func TestParseContextOverflow(t *testing.T) {
	for _, c := range overflowCases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := parseContextOverflow(c.status, []byte(c.body))
			if !ok {
				t.Fatalf("not recognised: %s", c.body)
			}
			msg := got.Message
			got.Message = ""
			if got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			got.Message = msg
			if a := got.anthropicMessage(); a != c.anth {
				t.Fatalf("anthropic message %q, want %q", a, c.anth)
			}
		})
	}
	for _, c := range notOverflowCases {
		t.Run("not "+c.name, func(t *testing.T) {
			if got, ok := parseContextOverflow(c.status, []byte(c.body)); ok {
				t.Fatalf("taken for an overflow: %+v", got)
			}
		})
	}
}

func TestRetryMaxTokens(t *testing.T) {
	for _, c := range []struct {
		co        contextOverflow
		maxTokens int
		want      int
	}{
		// vLLM: 81126 of 100001 in the prompt, 32000 asked.
		{contextOverflow{Limit: 100001, Prompt: 81126}, 32000, 100001 - 81126 - overflowMargin - 100001/256},
		// 128k model, 100k prompt, Claude Code's 32k.
		{contextOverflow{Limit: 131072, Prompt: 100000}, 32000, 131072 - 100000 - overflowMargin - 512},
		{contextOverflow{Limit: 32768, Prompt: 40000}, 32000, 0}, // the prompt itself overflows
		{contextOverflow{Limit: 32768, Prompt: 32768}, 32000, 0}, // nothing left for the completion
		{contextOverflow{Limit: 32768, Prompt: 32000}, 32000, 0}, // fewer than minOverflowRetry left
		{contextOverflow{Limit: 131072}, 32000, 0},               // the prompt is not known
		{contextOverflow{Prompt: 1000}, 32000, 0},                // the limit is not known
		{contextOverflow{Limit: 131072, Prompt: 1000}, 8000, 0},  // max_tokens already fits: not a completion overflow
		{contextOverflow{Limit: 131072, Prompt: 120000}, 12000, 10304},
		{contextOverflow{Limit: 131072, Prompt: 120000}, 10304, 0}, // what fits is what was sent
	} {
		if got := c.co.retryMaxTokens(c.maxTokens); got != c.want {
			t.Errorf("%+v with max_tokens %d: %d, want %d", c.co, c.maxTokens, got, c.want)
		}
	}
}

func TestSetMaxTokens(t *testing.T) {
	for _, key := range []string{"max_tokens", "max_completion_tokens"} {
		body := `{"model":"m","messages":[{"role":"user","content":"{\"max_tokens\":32000}"}],"tools":[{"type":"function","function":{"name":"x","parameters":{"properties":{"max_tokens":{"type":"integer"}}}}}],"` +
			key + `":32000,"stream":true}`
		for _, n := range []int{18229, 999, 31999} {
			b := append([]byte(nil), body...)
			out, ok := setMaxTokens(b, 32000, n)
			if !ok {
				t.Fatalf("%s: not patched", key)
			}
			if !gjson.ValidBytes(out) {
				t.Fatalf("invalid JSON: %s", out)
			}
			if got := gjson.GetBytes(out, key).Int(); got != int64(n) {
				t.Fatalf("%s = %d, want %d: %s", key, got, n, out)
			}
			// Nothing else changed.
			want := body[:len(body)-len(`32000,"stream":true}`)] + strconv.Itoa(n) + `,"stream":true}`
			if string(out) != want {
				t.Fatalf("got  %s\nwant %s", out, want)
			}
		}
	}
	for _, c := range []struct {
		body   string
		old, n int
	}{
		{`{"max_tokens":32000}`, 31000, 1000},                // not the value ccproxy wrote
		{`{"max_tokens":"32000"}`, 32000, 1000},              // not a number
		{`{"messages":[{"max_tokens":32000}]}`, 32000, 1000}, // only nested
		{`{"max_tokens":32000}`, 32000, 32000},               // not smaller
		{`{"max_tokens":32000}`, 32000, 0},
	} {
		b := []byte(c.body)
		out, ok := setMaxTokens(b, c.old, c.n)
		if ok || string(out) != c.body {
			t.Errorf("%s (%d -> %d): patched to %s", c.body, c.old, c.n, out)
		}
	}
}
