package toanthropic

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/ccproxy/ccproxy/internal/jsonw"
)

// Anthropic stop reasons.
const (
	stopEndTurn      = "end_turn"
	stopMaxTokens    = "max_tokens"
	stopToolUse      = "tool_use"
	stopRefusal      = "refusal"
	stopStopSequence = "stop_sequence"
)

// mapFinish maps an OpenAI finish_reason (in any letter case: gateways
// pass Gemini's STOP, SAFETY, ... through) to an Anthropic stop reason;
// known is false for a reason it does not recognise (an error-like end
// such as "error", "abort" or Gemini's MALFORMED_FUNCTION_CALL: mapped to
// end_turn, and reported to the client; see unknownFinishMessage).
// toolUsed reports that the answer holds tool calls: tool_use is the stop
// reason exactly when it does, unless the output was cut (max_tokens) or
// refused.
func mapFinish(reason string, toolUsed bool) (stop string, known bool) {
	switch reason { // the usual, exact spellings first
	case "stop":
		return mapFinish("end_turn", toolUsed)
	case "tool_calls":
		return mapFinish("tool_use", toolUsed)
	}
	switch {
	case oneOf(reason, "stop", "end_turn", "eos", "stop_sequence"):
		if toolUsed {
			return stopToolUse, true
		}
		return stopEndTurn, true
	case oneOf(reason, "length", "max_tokens"):
		return stopMaxTokens, true
	case oneOf(reason, "tool_calls", "function_call", "tool_use"):
		if !toolUsed {
			// No call came (an upstream's tool parser failed): Anthropic
			// never ends with tool_use without a tool_use block.
			return stopEndTurn, true
		}
		return stopToolUse, true
	case oneOf(reason, "content_filter", "refusal", "safety", "recitation", "blocklist", "prohibited_content", "spii", "image_safety"):
		return stopRefusal, true
	}
	if toolUsed {
		return stopToolUse, false
	}
	return stopEndTurn, false
}

// oneOf reports whether s is one of names, ignoring letter case.
func oneOf(s string, names ...string) bool {
	for _, n := range names {
		if strings.EqualFold(s, n) {
			return true
		}
	}
	return false
}

// unknownFinishMessage is the error a client gets for a finish_reason
// mapFinish does not know: ending the answer as a plain end_turn would hide
// that it failed.
func unknownFinishMessage(reason string) string {
	return "the upstream ended its answer with finish_reason " + strconv.Quote(reason)
}

// matchedStop returns the stop sequence a choice reports in the non-standard
// "stop_reason" (vLLM) or "matched_stop" (SGLang) field, if it is one of seqs.
func matchedStop(choice gjson.Result, seqs []string) (string, bool) {
	if len(seqs) == 0 {
		return "", false
	}
	for _, field := range [...]string{"stop_reason", "matched_stop"} {
		v := choice.Get(field)
		if v.Type != gjson.String {
			continue
		}
		for _, s := range seqs {
			if v.Str == s {
				return s, true
			}
		}
	}
	return "", false
}

// errorType maps an upstream error object (or string) to an Anthropic error
// type: rate limits and overload by their type, code or status; a request
// the upstream rejected (HTTP code 400 or 422, a BadRequestError or
// invalid_request or INVALID_ARGUMENT type) is invalid_request_error, as an upstream 400 answer
// is; 404 is not_found_error and 413 request_too_large; anything else
// (401 and 403 included: the client's own credentials were fine) api_error.
func errorType(e gjson.Result) string {
	probe := e.Raw
	var code int64
	if e.IsObject() {
		typ, c, st := e.Get("type"), e.Get("code"), e.Get("status")
		probe = typ.Raw + c.Raw + st.Raw
		for _, v := range [...]gjson.Result{c, st} {
			if v.Type == gjson.Number || v.Type == gjson.String && allDigits(v.Str) {
				code = v.Int()
				break
			}
		}
	}
	probe = strings.ToLower(probe)
	switch {
	case strings.Contains(probe, "rate_limit"), strings.Contains(probe, "429"),
		strings.Contains(probe, "resource_exhausted"), strings.Contains(probe, "quota"):
		return "rate_limit_error"
	case strings.Contains(probe, "overload"), strings.Contains(probe, "529"),
		strings.Contains(probe, "503"), strings.Contains(probe, "unavailable"):
		return "overloaded_error"
	case code == 400, code == 422, strings.Contains(probe, "badrequest"),
		strings.Contains(probe, "invalid_request"), strings.Contains(probe, "invalid_argument"):
		return "invalid_request_error"
	case code == 404:
		return "not_found_error"
	case code == 413:
		return "request_too_large"
	}
	return "api_error"
}

// errorMessageRaw returns the upstream error's message as a raw JSON string,
// encoding it when the upstream did not send a string.
func errorMessageRaw(e gjson.Result) string {
	if m := e.Get("message"); e.IsObject() && m.Type == gjson.String {
		return m.Raw
	}
	if e.Type == gjson.String {
		return e.Raw
	}
	return string(jsonw.AppendString(nil, e.Raw))
}

// parseUsage reads an OpenAI usage object.
func parseUsage(u gjson.Result) Usage {
	prompt := int(u.Get("prompt_tokens").Int())
	cached := u.Get("prompt_tokens_details.cached_tokens")
	if cached.Type == gjson.Null { // absent or null
		cached = u.Get("prompt_cache_hit_tokens") // DeepSeek
	}
	if cached.Type == gjson.Null {
		cached = u.Get("cached_tokens") // Moonshot
	}
	c := int(cached.Int())
	c = min(max(c, 0), max(prompt, 0))
	return Usage{
		InputTokens:          max(prompt-c, 0),
		OutputTokens:         max(int(u.Get("completion_tokens").Int()), 0),
		CacheReadInputTokens: c,
	}
}
