package fakeupstream

import (
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"
)

// request is what the reply policy needs from a chat-completions body.
// Its strings point into the request body buffer and are only valid while
// the handler runs.
type request struct {
	model        string
	hasModel     bool
	hasMessages  bool
	stream       bool
	includeUsage bool
	reasoning    bool   // reasoning_effort present and not null
	maxTokens    int64  // -1 when absent
	lastRole     string // "tool" when tool results follow the last assistant message
	lastText     string // user: last text part; tool: first text of the tool result
	tool         string // tool to call: "Bash" if offered, else the first tool; "" if none
	badTool      int    // index+1 of the first tool whose name OpenAI rejects; 0 if none
	badToolLen   int    // that name's length
}

// bytesToString views b as a string without copying; b must not change
// while the string is in use.
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// parseRequest reads the fields the policy needs in one pass over the top
// level of the body. The caller has checked that body is valid JSON.
func parseRequest(body []byte, req *request) {
	*req = request{maxTokens: -1}
	root := gjson.Parse(bytesToString(body))
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "model":
			if v.Type == gjson.String && v.Str != "" {
				req.model, req.hasModel = v.Str, true
			}
		case "messages":
			parseMessages(v, req)
		case "tools":
			parseTools(v, req)
		case "stream":
			req.stream = v.Type == gjson.True
		case "stream_options":
			req.includeUsage = v.Get("include_usage").Type == gjson.True
		case "max_tokens", "max_completion_tokens":
			if v.Type == gjson.Number {
				req.maxTokens = v.Int()
			}
		case "reasoning_effort":
			req.reasoning = v.Type != gjson.Null
		}
		return true
	})
}

func parseMessages(v gjson.Result, req *request) {
	if !v.IsArray() {
		return
	}
	// last is the last message; tool is the last tool message after the
	// last assistant message (a proxy may put a user message with extra
	// text after the tool results of one turn: that is still a tool-result
	// turn, and answering it with another tool call would loop forever).
	// System and developer messages in between (Claude Code sends one
	// after its first user turn) do not change whose turn it is.
	var last, tool gjson.Result
	v.ForEach(func(_, m gjson.Result) bool {
		role := m.Get("role").Str
		if role == "system" || role == "developer" {
			return true
		}
		last = m
		switch role {
		case "assistant":
			tool = gjson.Result{}
		case "tool":
			tool = m
		}
		return true
	})
	if !last.Exists() {
		return
	}
	req.hasMessages = true
	req.lastRole = last.Get("role").Str
	if tool.Exists() {
		req.lastRole = "tool"
		last = tool
	}
	content := last.Get("content")
	switch req.lastRole {
	case "tool":
		req.lastText = truncateRunes(firstText(content), 200)
	default:
		req.lastText = truncateRunes(lastText(content), 100)
	}
}

// lastText returns a string content, or the last non-empty text part of a
// parts array (in Claude Code turns that is what the user typed, after the
// system reminders).
func lastText(c gjson.Result) string {
	if c.Type == gjson.String {
		return c.Str
	}
	var last gjson.Result
	if c.IsArray() {
		c.ForEach(func(_, p gjson.Result) bool {
			// keep the raw part: unescaping (which allocates) happens once
			if t := p.Get("text"); t.Type == gjson.String && len(t.Raw) > 2 {
				last = t
			}
			return true
		})
	}
	return last.Str
}

// firstText returns a string content, or the first text part of an array.
func firstText(c gjson.Result) string {
	if c.Type == gjson.String {
		return c.Str
	}
	var s string
	if c.IsArray() {
		c.ForEach(func(_, p gjson.Result) bool {
			if t := p.Get("text"); t.Type == gjson.String {
				s = t.Str
				return false
			}
			return true
		})
	}
	return s
}

func parseTools(v gjson.Result, req *request) {
	if !v.IsArray() {
		return
	}
	i := 0
	v.ForEach(func(_, t gjson.Result) bool {
		i++
		name := t.Get("function.name").Str
		if req.badTool == 0 && !validToolName(name) {
			req.badTool, req.badToolLen = i, len(name)
		}
		if req.tool == "" || name == "Bash" {
			req.tool = name
		}
		return true
	})
}

// validToolName reports whether OpenAI accepts name as a function name:
// ^[a-zA-Z0-9_-]{1,64}$.
func validToolName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// truncateRunes cuts s to at most n runes.
func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// splitRunes cuts s into at most n pieces of roughly equal byte length,
// each on a rune boundary and none empty.
func splitRunes(s string, n int) []string {
	if n < 1 {
		n = 1
	}
	if rc := utf8.RuneCountInString(s); rc < n {
		n = rc
	}
	if n <= 1 {
		return []string{s}
	}
	out := make([]string, 0, n)
	start := 0
	for i := 1; i <= n; i++ {
		end := len(s) * i / n
		for end < len(s) && !utf8.RuneStart(s[end]) {
			end++
		}
		if end > start {
			out = append(out, s[start:end])
			start = end
		}
	}
	if start < len(s) {
		out[len(out)-1] += s[start:]
	}
	return out
}
