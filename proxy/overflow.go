package proxy

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/ccproxy/ccproxy/engine"
)

// contextOverflow is what an upstream said when a request did not fit its
// model's context window. Counts it did not state are 0.
type contextOverflow struct {
	Limit      int    // the context window, in tokens
	Prompt     int    // the prompt's tokens (messages and tools)
	Completion int    // the completion's tokens counted against the window (max_tokens)
	Requested  int    // prompt and completion together
	Message    string // the upstream's own message
}

// overflowCodes are error codes (error.code) and types (error.type) that
// say the context window was exceeded, whatever the message.
var overflowCodes = [...]string{
	"context_length_exceeded",   // OpenAI, Azure, Groq, DeepSeek
	"context_window_exceeded",   // some OpenAI-compatible gateways
	"exceed_context_size_error", // llama.cpp server
	"contextwindowexceedederror",
}

// overflowPhrases are lower-cased phrases of upstream messages that say the
// context window was exceeded (after Claude Code's own list of them, and
// what OpenAI, vLLM, OpenRouter, Gemini, Mistral, TGI, llama.cpp, xAI,
// Moonshot, Qwen and Bedrock write). None is said of an ordinary 400 (a
// bad tool schema, max_tokens above the model's output limit).
var overflowPhrases = [...]string{
	"maximum context length",
	"context_length_exceeded",
	"context length exceeded",
	"exceeds the context window",
	"exceeds the available context size",
	"exceeds the maximum number of tokens allowed",
	"exceeded model token limit",
	"longer than the maximum model length",
	"longer than the model's context length",
	"input token length too long",
	"input tokens exceed the configured limit",
	"maximum context limit",
	"maximum prompt length",
	"prompt exceeds max length",
	"tokens in request more than max tokens allowed",
	"range of input length should be",
	"context window exceeds limit",
	"input token count is", // Vertex AI: "the input token count is N but model only supports up to M"
	"reduce the length of the messages",
	"`inputs` tokens + `max_new_tokens` must be",
	"context exceeds your deployment",
	"prompt is too long",
	"input is too long for requested model",
}

// notOverflow are phrases of errors that look like an overflow but are a
// limit on one field's size (Claude Code does not compact for them either).
var notOverflow = [...]string{
	"string too long. expected a string with maximum length",
	"expected maxlength",
}

// The counts in upstream messages, lower-cased; the first pattern of a
// list that matches gives the count. A number may carry thousands
// separators.
const num = `(\d[\d,_]*)`

var (
	limitPatterns = compileAll(
		`maximum context length(?: is| of)?:?\s*(?:only\s*)?`+num, // OpenAI, vLLM, OpenRouter, Fireworks
		num+`\s*maximum context length`,                           // Mistral
		`maximum number of tokens allowed\s*\(`+num,               // Gemini
		`tokens?\s*>\s*`+num+`\s*maximum`,                         // Anthropic
		`context length of (?:only )?`+num,                        // LM Studio
		`maximum prompt length is `+num,                           // xAI
		`model token limit:?\s*`+num,                              // Moonshot
		"must be <=\\s*"+num,                                      // TGI
		`context size \(`+num,                                     // llama.cpp
		`only supports up to\s*`+num,                              // Vertex AI
	)
	promptPatterns = compileAll(
		`messages resulted in `+num+` tokens`,                     // OpenAI
		`request has `+num+` input tokens`,                        // vLLM
		`prompt contains (?:at least )?`+num+` (?:input )?tokens`, // vLLM, Mistral
		`prompt is `+num+` tokens`,
		`input token count\s*\(`+num,        // Gemini
		`input token count is\s*`+num,       // Vertex AI
		`prompt is too long[^0-9]{0,8}`+num, // Anthropic, Fireworks
		"given: "+num+" `?inputs`? tokens",  // TGI
		`request contains `+num+` tokens`,   // xAI
		num+` in your prompt`,               // OpenAI (older)
		num+` in the messages`,              // OpenAI, vLLM (without the tools)
	)
	completionPatterns = compileAll(
		num+` (?:in|for) the (?:completion|output)`, // OpenAI, vLLM, OpenRouter
		`requested `+num+` output tokens`,           // vLLM
		`is too large:\s*`+num,                      // vLLM: 'max_tokens' or 'max_completion_tokens' is too large: N
		"and "+num+" `?max_new_tokens`?",            // TGI
	)
	requestedPatterns = compileAll(
		`requested (?:about )?`+num+` tokens`,         // OpenAI, vLLM, OpenRouter
		`for a total of (?:at least )?`+num+` tokens`, // vLLM
		`\(requested:?\s*`+num,                        // Moonshot
	)
)

func compileAll(patterns ...string) []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(patterns))
	for i, p := range patterns {
		out[i] = regexp.MustCompile(p)
	}
	return out
}

// parseContextOverflow reports whether an upstream answer (its status and
// body) says the request exceeded the model's context window, and the
// counts it states. Only 400, 413 and 422 (and 200, for an error object
// in a unary answer) can say so. The error's code and type are read
// first, then its message, case-insensitively.
func parseContextOverflow(status int, body []byte) (contextOverflow, bool) {
	var co contextOverflow
	switch status {
	case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
	default:
		return co, false
	}
	var code, typ string
	if fields, msg, ok := errorEnvelope(body); ok {
		co.Message = msg
		if c := fields.Get("code"); c.Type == gjson.String {
			code = strings.ToLower(c.Str)
		}
		typ = strings.ToLower(fields.Get("type").String())
		co.Prompt = int(fields.Get("n_prompt_tokens").Int()) // llama.cpp
		co.Limit = int(fields.Get("n_ctx").Int())
	} else if status != http.StatusOK {
		co.Message = strings.TrimSpace(string(body))
	}
	msg := strings.ToLower(co.Message)
	if !isOverflow(code, typ, msg) {
		return contextOverflow{}, false
	}
	if co.Limit == 0 {
		co.Limit = firstCount(limitPatterns, msg)
	}
	if co.Prompt == 0 {
		co.Prompt = firstCount(promptPatterns, msg)
	}
	co.Completion = firstCount(completionPatterns, msg)
	co.Requested = firstCount(requestedPatterns, msg)
	switch {
	case co.Requested > co.Completion && co.Completion > 0:
		// What the upstream counted against the window minus the
		// completion: the whole prompt, tools included (OpenAI's "N in the
		// messages" leaves out "M in the functions").
		co.Prompt = co.Requested - co.Completion
	case co.Requested == 0 && co.Prompt > 0 && co.Completion > 0:
		co.Requested = co.Prompt + co.Completion
	}
	return co, true
}

// isOverflow reports whether an error's code, type or message (all
// lower-cased) say the context window was exceeded.
func isOverflow(code, typ, msg string) bool {
	for _, s := range notOverflow {
		if strings.Contains(msg, s) {
			return false
		}
	}
	for _, c := range overflowCodes {
		if code == c || typ == c {
			return true
		}
	}
	for _, p := range overflowPhrases {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// firstCount is the count the first matching pattern captures, 0 if none
// does.
func firstCount(patterns []*regexp.Regexp, msg string) int {
	for _, re := range patterns {
		if m := re.FindStringSubmatch(msg); m != nil {
			digits := strings.NewReplacer(",", "", "_", "").Replace(m[1])
			if n, err := strconv.Atoi(digits); err == nil && n > 0 {
				return n
			}
		}
	}
	return 0
}

// anthropicMessage is the overflow in the words Anthropic uses, which
// Claude Code reads to compact the conversation by the right amount:
// "prompt is too long: <actual> tokens > <limit> maximum". actual is the
// prompt's tokens when they are over the limit. A prompt that fits but
// leaves too little room for the completion must still shrink: by enough
// to leave the completion room (actual is what was requested in all),
// but the room asked for is at most a quarter of the window (and at least
// what a retry needs). A max_tokens near or above the window itself
// (Claude Code's 32,000 on a 32k model) would otherwise ask Claude Code to
// shed more than the whole prompt, which no compaction can do; with the
// room left, the next turn's overflow is retried with a max_tokens that
// fits. Without both counts the upstream's message follows "prompt is too
// long: ".
func (c *contextOverflow) anthropicMessage() string {
	actual := c.Prompt
	if actual <= c.Limit && c.Requested > c.Limit {
		actual = c.Requested
		if c.Prompt > 0 {
			room := min(c.Requested-c.Prompt, max(c.Limit/4, minOverflowRetry+overflowMargin+c.Limit/256))
			if c.Prompt+room > c.Limit {
				actual = c.Prompt + room
			}
		}
	}
	if actual > 0 && c.Limit > 0 {
		return "prompt is too long: " + strconv.Itoa(actual) + " tokens > " + strconv.Itoa(c.Limit) + " maximum"
	}
	msg := c.Message
	if msg == "" {
		msg = "the upstream model's context window was exceeded"
	}
	return "prompt is too long: " + msg
}

// apiError is the answer to an Anthropic client: 400 invalid_request_error
// with anthropicMessage.
func (c *contextOverflow) apiError(from *apiError) *apiError {
	e := *from
	e.Status, e.Type, e.Message, e.RetryAfter = http.StatusBadRequest, errInvalidRequest, c.anthropicMessage(), ""
	return &e
}

// Retrying a completion-only overflow: the new max_tokens leaves
// overflowMargin tokens and 1/256 of the window unused (counts such as
// OpenRouter's are approximate), and a retry is not worth it for fewer
// than minOverflowRetry output tokens.
const (
	overflowMargin   = 256
	minOverflowRetry = 1024
)

// retryMaxTokens is the max_tokens to send again with, when the prompt
// fits the window but the prompt and the completion (sent as maxTokens)
// together do not; 0 when no smaller max_tokens would do.
func (c *contextOverflow) retryMaxTokens(maxTokens int) int {
	if c.Prompt <= 0 || c.Limit <= 0 || c.Prompt >= c.Limit {
		return 0
	}
	n := c.Limit - c.Prompt - overflowMargin - c.Limit/256
	if n < minOverflowRetry || n >= maxTokens {
		return 0
	}
	return n
}

// setMaxTokens rewrites, in place, the output limit of a request ccproxy
// translated: the top-level max_tokens or max_completion_tokens number,
// which must read old, becomes n (n < old, so it takes no more digits).
// It reports false, with body unchanged, when the body holds no such
// number.
func setMaxTokens(body []byte, old, n int) ([]byte, bool) {
	if n <= 0 || n >= old {
		return body, false
	}
	var was [20]byte
	oldDigits := strconv.AppendInt(was[:0], int64(old), 10)
	for _, key := range [...]string{"max_tokens", "max_completion_tokens"} {
		r := gjson.GetBytes(body, key)
		if !r.Exists() {
			continue
		}
		at := r.Index
		if r.Type != gjson.Number || at <= 0 || at+len(r.Raw) > len(body) || !bytes.Equal(body[at:at+len(r.Raw)], oldDigits) {
			return body, false
		}
		var now [20]byte
		digits := strconv.AppendInt(now[:0], int64(n), 10)
		end := at + len(oldDigits)
		copy(body[at:], digits)
		copy(body[at+len(digits):], body[end:])
		return body[:len(body)-(len(oldDigits)-len(digits))], true
	}
	return body, false
}

// sentMaxTokens is the top-level max_tokens or max_completion_tokens of a
// translated request, 0 when it has neither as a positive integer.
func sentMaxTokens(body []byte) int {
	for _, key := range [...]string{"max_tokens", "max_completion_tokens"} {
		if r := gjson.GetBytes(body, key); r.Type == gjson.Number && r.Num >= 1 && r.Num <= 1<<31 && r.Num == float64(int(r.Num)) {
			return int(r.Num)
		}
	}
	return 0
}

// causeContextOverflow is the retry cause of a request sent again with a
// smaller max_tokens.
const causeContextOverflow = "context_overflow"

// retryOverflow takes the error send returned for a translated request
// (its body req.Body, whose output limit is maxTokens). An upstream's
// context-window overflow becomes Anthropic's "prompt is too long" answer,
// except when only the completion overflowed: the prompt fits, so the
// request is sent once more, before anything has been written to the
// client, with a max_tokens that fits too (req.Body is patched in place).
// Should that fail alike, it is answered the same way; there is no second
// retry. Other errors come back unchanged.
func (h *Handler) retryOverflow(ctx context.Context, req *engine.Request, rs *reqState, maxTokens int, err error) (*engine.Response, error) {
	ae, ok := err.(*apiError)
	if !ok || !ae.Upstream {
		return nil, err
	}
	co, ok := parseContextOverflow(ae.RawStatus, ae.Raw)
	if !ok {
		return nil, err
	}
	if sent := sentMaxTokens(req.Body); sent > 0 {
		// What this body asks for now: a fallback model is sent the body
		// an earlier overflow retry already patched.
		maxTokens = sent
	}
	n := co.retryMaxTokens(maxTokens)
	body, patched := setMaxTokens(req.Body, maxTokens, n)
	if n == 0 || !patched {
		h.log.Debug().Str("request_id", rs.id).Int("context_limit", co.Limit).Int("prompt_tokens", co.Prompt).
			Int("requested_tokens", co.Requested).Int("max_tokens", maxTokens).Msg("upstream context window exceeded")
		return nil, co.apiError(ae)
	}
	req.Body = body
	rs.at.Retries++
	rs.at.LastCause = causeContextOverflow
	h.noteRetry(causeContextOverflow)
	h.log.Info().Str("request_id", rs.id).Int("context_limit", co.Limit).Int("prompt_tokens", co.Prompt).
		Int("max_tokens", maxTokens).Int("retry_max_tokens", n).
		Msg("upstream context window exceeded by the completion alone: retrying with a smaller max_tokens")
	resp, err := h.send(ctx, req, &rs.at)
	if err == nil {
		return resp, nil
	}
	if ae, ok := err.(*apiError); ok && ae.Upstream {
		if co, ok := parseContextOverflow(ae.RawStatus, ae.Raw); ok {
			return nil, co.apiError(ae)
		}
	}
	return nil, err
}
