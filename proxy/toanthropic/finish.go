package toanthropic

import (
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

// mapFinish maps an OpenAI finish_reason to an Anthropic stop reason; known
// is false for a reason it does not recognise (mapped to end_turn). toolUsed
// reports that the answer holds tool calls: tool_use is the stop reason
// exactly when it does, unless the output was cut (max_tokens) or refused.
func mapFinish(reason string, toolUsed bool) (stop string, known bool) {
	switch reason {
	case "stop", "end_turn", "eos":
		if toolUsed {
			return stopToolUse, true
		}
		return stopEndTurn, true
	case "length", "max_tokens":
		return stopMaxTokens, true
	case "tool_calls", "function_call", "tool_use":
		if !toolUsed {
			// No call came (an upstream's tool parser failed): Anthropic
			// never ends with tool_use without a tool_use block.
			return stopEndTurn, true
		}
		return stopToolUse, true
	case "content_filter", "refusal":
		return stopRefusal, true
	}
	if toolUsed {
		return stopToolUse, false
	}
	return stopEndTurn, false
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
// type.
func errorType(e gjson.Result) string {
	probe := e.Raw
	if e.IsObject() {
		probe = e.Get("type").Raw + e.Get("code").Raw + e.Get("status").Raw
	}
	probe = strings.ToLower(probe)
	switch {
	case strings.Contains(probe, "rate_limit"), strings.Contains(probe, "429"),
		strings.Contains(probe, "resource_exhausted"), strings.Contains(probe, "quota"):
		return "rate_limit_error"
	case strings.Contains(probe, "overload"), strings.Contains(probe, "529"),
		strings.Contains(probe, "503"), strings.Contains(probe, "unavailable"):
		return "overloaded_error"
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
