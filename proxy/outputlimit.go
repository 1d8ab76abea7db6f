package proxy

import (
	"context"
	"net/http"
	"regexp"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/proxy/toopenai"
)

// outputLimitPatterns find, in a lower-cased upstream message, the most
// max_tokens (or max_completion_tokens) the model accepts: the upstream
// refused the request because the client's max_tokens was above its
// output limit, not because the context window overflowed (overflow.go).
// Each is the provider's own wording, as users reported it:
var outputLimitPatterns = [...]struct {
	re        *regexp.Regexp
	exclusive bool // the number is one above the limit
}{
	// OpenAI, Azure (also for max_completion_tokens): "max_tokens is too
	// large: 32000. This model supports at most 16384 completion tokens,
	// whereas you provided 32000." (NextChat#3195, ExtractThinker#346)
	{re: regexp.MustCompile(`supports at most ` + num + ` completion tokens`)},
	// DeepSeek: "Invalid max_tokens value, the valid range of max_tokens
	// is [1, 8192]" (DeepSeek-V3#69); Qwen on DashScope: "Range of
	// max_tokens should be [1, 8192]" (open-webui#10507).
	{re: regexp.MustCompile(`range of max_(?:completion_)?tokens (?:is|should be) \[\s*1\s*,\s*` + num + `\s*\]`)},
	// Groq: "`max_tokens` must be less than or equal to `8192`, the
	// maximum value for `max_tokens` is less than the `context_window` for
	// this model" (Roo-Code#5136).
	{re: regexp.MustCompile("max_(?:completion_)?tokens`? must be less than or equal to `?" + num)},
	// Volcengine Ark (Doubao): "The parameter `max_completion_tokens`
	// specified in the request are not valid: integer above maximum value,
	// expected a value <= 12288, but got 32000 instead." (openclaude#331,
	// TOKENICODE#3)
	{re: regexp.MustCompile("max_(?:completion_)?tokens`? specified in the request (?:is|are) not valid: integer above maximum value, expected a value <= " + num)},
	// Gemini and Vertex AI: "Unable to submit request because it has a
	// maxOutputTokens value of 65536 but the supported range is from 1
	// (inclusive) to 65536 (exclusive)." (litellm#10548, bolt.diy#955)
	{re: regexp.MustCompile(`maxoutputtokens value of \d+ but the supported range is from 1 \(inclusive\) to ` + num + ` \(exclusive\)`), exclusive: true},
	// Anthropic's models behind an OpenAI-compatible gateway: "max_tokens:
	// 128001 > 64000, which is the maximum allowed number of output tokens
	// for claude-opus-4-5-20251101" (claude-code#24451).
	{re: regexp.MustCompile(`max_tokens: \d+ > ` + num + `, which is the maximum allowed number of output tokens`)},
	// Bedrock: "The maximum tokens you requested exceeds the model limit of
	// 32768" (crush#946).
	{re: regexp.MustCompile(`maximum tokens you requested exceeds the model limit of ` + num)},
}

// Not output limits, though they name max_tokens and a number: vLLM's
// "'max_tokens' or 'max_completion_tokens' is too large: 64000. This
// model's maximum context length is 64001 tokens and your request has
// 24235 input tokens" and Together's "`inputs` tokens + `max_new_tokens`
// must be <= 32769" are context-window overflows (overflow.go retries
// them with a max_tokens that fits the prompt, which depends on the
// prompt: nothing to learn); Fireworks' "Requests with max_tokens > 4096
// must have stream=true" limits unary requests only. Mistral answers 422
// for a max_tokens at or above the context window, in an overflow's
// words.

// parseOutputLimit reports the output limit an upstream answer (its
// status and body) states when it refused a max_tokens above the model's
// output limit; 0 when it says something else or states no number. A
// context-window overflow is never an output limit. The error's message
// is read, and its param when the message does not say (some gateways put
// the upstream's text there).
func parseOutputLimit(status int, body []byte) int {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusRequestedRangeNotSatisfiable, http.StatusUnprocessableEntity:
	default:
		return 0
	}
	fields, msg, ok := errorEnvelope(body)
	if !ok {
		msg = strings.TrimSpace(string(body))
	}
	if _, overflow := parseContextOverflow(status, body); overflow {
		return 0
	}
	if n := outputLimitIn(strings.ToLower(msg)); n > 0 || !ok {
		return n
	}
	if p := fields.Get("param"); p.Type == gjson.String && len(p.Str) > len("max_tokens") {
		return outputLimitIn(strings.ToLower(p.Str))
	}
	return 0
}

// outputLimitIn is the limit the first matching pattern states, 0 if none.
func outputLimitIn(msg string) int {
	for _, p := range outputLimitPatterns {
		if n := firstCount([]*regexp.Regexp{p.re}, msg); n > 0 {
			if p.exclusive {
				n--
			}
			return n
		}
	}
	return 0
}

// causeOutputLimit is the retry cause of a request sent again with the
// output limit its model's refusal stated.
const causeOutputLimit = "output_limit"

// retryRefused takes the error send returned for a translated request to
// the upstream model (its body req.Body, whose output limit is
// maxTokens): an output-limit refusal is retried with the stated limit
// (retryOutputLimit), then a context-window overflow (retryOverflow),
// whichever the first try or the retry met. Other errors come back
// unchanged.
func (h *Handler) retryRefused(ctx context.Context, req *engine.Request, rs *reqState, model string, maxTokens int, err error) (*engine.Response, error) {
	resp, err := h.retryOutputLimit(ctx, req, rs, model, err)
	if err != nil {
		resp, err = h.retryOverflow(ctx, req, rs, maxTokens, err)
	}
	return resp, err
}

// retryOutputLimit: when the upstream refused max_tokens above model's
// output limit and stated the limit, the limit is remembered for model
// (later translations send it at once) and the request is sent once more,
// before anything has reached the client, with max_tokens lowered to it
// (req.Body is patched in place, max_tokens or max_completion_tokens as
// sent). The retry's own error comes back as it is (a limit it states is
// learned too, never retried). Any other error, or a refusal stating no
// number, no lower one or an implausible one (learnOutputLimit), comes
// back unchanged.
func (h *Handler) retryOutputLimit(ctx context.Context, req *engine.Request, rs *reqState, model string, err error) (*engine.Response, error) {
	sent := sentMaxTokens(req.Body)
	n := h.learnOutputLimit(rs, model, sent, err)
	if n == 0 {
		return nil, err
	}
	body, patched := setMaxTokens(req.Body, sent, n)
	if !patched {
		return nil, err
	}
	req.Body = body
	rs.at.Retries++
	rs.at.LastCause = causeOutputLimit
	h.noteRetry(causeOutputLimit)
	h.log.Debug().Str("request_id", rs.id).Str("model", model).Int("max_tokens", sent).Int("retry_max_tokens", n).
		Msg("upstream refused max_tokens above the model's output limit: retrying with the limit")
	resp, err := h.send(ctx, req, &rs.at)
	if err != nil {
		h.learnOutputLimit(rs, model, n, err)
	}
	return resp, err
}

// learnOutputLimit is the output limit an upstream error states, 0 when
// it is no output-limit refusal of a request that asked for sent output
// tokens; a limit lower than the model's known one is remembered and
// logged once at info. A stated limit of sent or more cannot be why the
// request was refused (the number was read from a refusal of something
// else), and one below toopenai.MinLearnedOutputTokens is not trusted
// (a hostile or buggy upstream's "[1, 1]" would make the retry ask for
// one token): both are 0, and the refusal reaches the client as it is.
func (h *Handler) learnOutputLimit(rs *reqState, model string, sent int, err error) int {
	ae, ok := err.(*apiError)
	if !ok || !ae.Upstream {
		return 0
	}
	n := parseOutputLimit(ae.RawStatus, ae.Raw)
	if n < toopenai.MinLearnedOutputTokens || n >= sent {
		return 0
	}
	if h.cfg.Models.LearnMaxOutputTokens(model, n) {
		h.log.Info().Str("request_id", rs.id).Str("model", model).Int("max_output_tokens", n).
			Msg("learned the upstream model's output limit from its refusal: later requests send at most this max_tokens")
	}
	return n
}
