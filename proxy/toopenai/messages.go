package toopenai

import (
	"bytes"
	"strconv"
)

// billingHeader starts a system block Claude Code adds for Anthropic's
// billing. It changes with every request (a per-request fingerprint), so
// forwarding it would only defeat the upstream's prompt-prefix caching.
var billingHeader = []byte("x-anthropic-billing-header:")

// beginMessage appends the separator before a message and opens it with role.
func (t *translator) beginMessage(dst []byte, role string) []byte {
	if t.nMsgs > 0 {
		dst = append(dst, ',')
	}
	t.nMsgs++
	dst = append(dst, `{"role":"`...)
	dst = append(dst, role...)
	return append(dst, `","content":`...)
}

// appendSystem writes the top-level system prompt (a string or text blocks
// joined with "\n") as one leading system/developer message. Claude Code's
// billing-header block is left out.
func (t *translator) appendSystem(dst, system []byte) ([]byte, error) {
	switch {
	case system == nil || string(system) == "null":
		return dst, nil
	case isString(system):
		if len(system) == 2 {
			return dst, nil
		}
		t.textBytes += len(system) - 2
		dst = t.beginMessage(dst, t.sysRole)
		dst = append(dst, system...)
		return append(dst, '}'), nil
	case isArray(system):
		if isEmptyArray(system) {
			return dst, nil
		}
		mark := len(dst)
		n := t.nMsgs
		dst = t.beginMessage(dst, t.sysRole)
		dst = append(dst, '"')
		texts := 0
		it := indexed(system, t.ix)
		for _, v, ok := it.next(); ok; _, v, ok = it.next() {
			if !isObject(v) {
				return dst, &RequestError{Field: "system", Message: "must be a string or an array of text blocks"}
			}
			b := t.parseBlock(v)
			if b.kind != kindText || !isString(b.text) || bytes.HasPrefix(inner(b.text), billingHeader) {
				continue
			}
			if texts > 0 {
				dst = append(dst, `\n`...)
			}
			dst = t.appendTextInner(dst, &b)
			texts++
		}
		if texts == 0 {
			t.nMsgs = n
			return dst[:mark], nil
		}
		return append(dst, `"}`...), nil
	}
	return dst, &RequestError{Field: "system", Message: "must be a string or an array of text blocks"}
}

func isEmptyArray(raw []byte) bool {
	return isArray(raw) && skipWS(raw, 1) == len(raw)-1
}

// appendMessages writes every message of the Anthropic history.
func (t *translator) appendMessages(dst, msgs []byte) ([]byte, error) {
	if isEmptyArray(msgs) {
		return dst, &RequestError{Field: "messages", Message: "at least one message is required"}
	}
	it := indexed(msgs, t.ix)
	idx := 0
	for _, m, ok := it.next(); ok; _, m, ok = it.next() {
		if !isObject(m) {
			return dst, &RequestError{Field: msgField(idx, ""), Message: "must be an object"}
		}
		var role, content []byte
		mi := indexed(m, t.ix)
		for k, v, ok := mi.next(); ok; k, v, ok = mi.next() {
			switch string(k) {
			case "role":
				role = v
			case "content":
				content = v
			}
		}
		if content == nil {
			return dst, &RequestError{Field: msgField(idx, "content"), Message: "field required"}
		}
		if !isString(content) && !isArray(content) {
			return dst, &RequestError{Field: msgField(idx, "content"), Message: "must be a string or an array of content blocks"}
		}
		if isArray(content) {
			// Every block must be an object; checked up front so that the
			// per-role writers can skip non-objects silently.
			bi := indexed(content, t.ix)
			n := 0
			for _, b, ok := bi.next(); ok; _, b, ok = bi.next() {
				if !isObject(b) {
					return dst, &RequestError{Field: msgField(idx, "content") + "." + strconv.Itoa(n), Message: "must be an object"}
				}
				n++
			}
		}
		var err error
		switch {
		case strEq(role, "user"):
			dst = t.appendUser(dst, content)
		case strEq(role, "assistant"):
			dst = t.appendAssistant(dst, content)
		case strEq(role, "system"):
			if isString(content) {
				t.textBytes += len(content) - 2
				dst = t.beginMessage(dst, t.sysRole)
				dst = append(dst, content...)
				dst = append(dst, '}')
			} else {
				dst = t.beginMessage(dst, t.sysRole)
				dst = append(dst, '"')
				dst = t.appendJoined(dst, content, nil)
				dst = append(dst, `"}`...)
			}
		case role == nil:
			err = &RequestError{Field: msgField(idx, "role"), Message: "field required"}
		default:
			err = &RequestError{Field: msgField(idx, "role"), Message: `must be "user" or "assistant"`}
		}
		if err != nil {
			return dst, err
		}
		idx++
	}
	return dst, nil
}

func msgField(idx int, sub string) string {
	f := "messages." + strconv.Itoa(idx)
	if sub != "" {
		f += "." + sub
	}
	return f
}

// appendUser writes a user turn: one tool message per tool_result in block
// order, then one user message with the images/documents found inside tool
// results followed by the turn's other content.
func (t *translator) appendUser(dst, content []byte) []byte {
	if isString(content) {
		t.textBytes += len(content) - 2
		dst = t.beginMessage(dst, "user")
		dst = append(dst, content...)
		return append(dst, '}')
	}
	var (
		media    int // images/documents inside tool results
		parts    int // other content parts
		tools    int
		lastText []byte
	)
	it := indexed(content, t.ix)
	for _, v, ok := it.next(); ok; _, v, ok = it.next() {
		b := t.parseBlock(v)
		switch b.kind {
		case kindToolResult:
			dst = t.appendToolMessage(dst, &b, &media)
			tools++
		case kindThinking, kindRedactedThinking:
		default:
			parts++
			lastText = nil
			if b.kind == kindText && isString(b.text) {
				lastText = b.text
			}
		}
	}
	if parts == 0 && media == 0 {
		if tools == 0 {
			dst = t.beginMessage(dst, "user")
			dst = append(dst, `""}`...)
		}
		return dst
	}
	dst = t.beginMessage(dst, "user")
	if parts == 1 && media == 0 && lastText != nil {
		t.textBytes += len(lastText) - 2
		dst = append(dst, lastText...)
		return append(dst, '}')
	}
	dst = append(dst, '[')
	n := 0
	if media > 0 {
		dst, n = t.appendToolMedia(dst, content)
	}
	dst = t.appendParts(dst, content, n)
	return append(dst, "]}"...)
}

// The loops over a user turn's blocks are separate functions so that only
// one block value is on the stack at a time: the translation runs on the
// connection's goroutine, and a stack it grows stays grown for the stream
// that follows.

// appendToolMedia writes the images and documents found inside the
// tool_result blocks of content as parts, and returns how many it wrote.
func (t *translator) appendToolMedia(dst, content []byte) ([]byte, int) {
	n := 0
	it := indexed(content, t.ix)
	for _, v, ok := it.next(); ok; _, v, ok = it.next() {
		b := t.parseBlock(v)
		if b.kind != kindToolResult || !isArray(b.content) {
			continue
		}
		ci := indexed(b.content, t.ix)
		for _, c, ok := ci.next(); ok; _, c, ok = ci.next() {
			if !isObject(c) {
				continue
			}
			cb := t.parseBlock(c)
			if cb.kind != kindImage && cb.kind != kindDocument {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = t.appendMediaPart(dst, &cb)
			n++
		}
	}
	return dst, n
}

// appendParts writes the blocks of content other than tool results and
// thinking as parts, after n parts already written.
func (t *translator) appendParts(dst, content []byte, n int) []byte {
	it := indexed(content, t.ix)
	for _, v, ok := it.next(); ok; _, v, ok = it.next() {
		b := t.parseBlock(v)
		switch b.kind {
		case kindToolResult, kindThinking, kindRedactedThinking:
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		if b.kind == kindImage || b.kind == kindDocument {
			dst = t.appendMediaPart(dst, &b)
		} else {
			dst = t.appendTextPart(dst, &b)
		}
		n++
	}
	return dst
}

// appendToolMessage writes a tool_result as a role "tool" message; images
// and documents in it are counted into *media for the following user message.
func (t *translator) appendToolMessage(dst []byte, b *block, media *int) []byte {
	if t.nMsgs > 0 {
		dst = append(dst, ',')
	}
	t.nMsgs++
	dst = append(dst, `{"role":"tool","tool_call_id":`...)
	dst, _ = appendToolCallID(dst, b.toolUseID, `""`)
	dst = append(dst, `,"content":"`...)
	if b.isError {
		dst = append(dst, "Error: "...)
	}
	dst = t.appendJoined(dst, b.content, media)
	return append(dst, `"}`...)
}

// appendAssistant writes an assistant turn: text (and degraded unknown
// blocks) joined as content, thinking as reasoning_content when replaying,
// tool_use blocks as tool_calls.
func (t *translator) appendAssistant(dst, content []byte) []byte {
	dst = t.beginMessage(dst, "assistant")
	if isString(content) {
		t.textBytes += len(content) - 2
		dst = append(dst, content...)
		return append(dst, '}')
	}
	contentAt := len(dst)
	dst = append(dst, '"')
	texts, tools, thoughts := 0, 0, 0
	it := indexed(content, t.ix)
	for _, v, ok := it.next(); ok; _, v, ok = it.next() {
		b := t.parseBlock(v)
		switch b.kind {
		case kindToolUse:
			tools++
			continue
		case kindThinking:
			if isString(b.thinking) && len(b.thinking) > 2 {
				thoughts++
			}
			continue
		case kindRedactedThinking:
			continue
		}
		if texts > 0 {
			dst = append(dst, `\n`...)
		}
		dst = t.appendTextInner(dst, &b)
		texts++
	}
	if texts == 0 {
		dst = dst[:contentAt]
		if tools > 0 {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, `""`...)
		}
	} else {
		dst = append(dst, '"')
	}
	if t.replay && thoughts > 0 {
		dst = append(dst, `,"reasoning_content":"`...)
		n := 0
		it = indexed(content, t.ix)
		for _, v, ok := it.next(); ok; _, v, ok = it.next() {
			b := t.parseBlock(v)
			if b.kind != kindThinking || !isString(b.thinking) || len(b.thinking) == 2 {
				continue
			}
			if n > 0 {
				dst = append(dst, `\n`...)
			}
			t.textBytes += len(b.thinking) - 2
			dst = append(dst, inner(b.thinking)...)
			n++
		}
		dst = append(dst, '"')
	}
	if tools > 0 {
		dst = append(dst, `,"tool_calls":[`...)
		n := 0
		it = indexed(content, t.ix)
		for _, v, ok := it.next(); ok; _, v, ok = it.next() {
			b := t.parseBlock(v)
			if b.kind != kindToolUse {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = append(dst, `{"id":`...)
			var sig []byte
			dst, sig = appendToolCallID(dst, b.id, `""`)
			dst = append(dst, `,"type":"function","function":{"name":`...)
			if isString(b.name) {
				dst = t.appendToolName(dst, b.name)
			} else {
				dst = append(dst, `""`...)
			}
			dst = append(dst, `,"arguments":"`...)
			if b.input == nil || string(b.input) == "null" {
				dst = append(dst, "{}"...)
			} else {
				t.textBytes += len(b.input)
				dst = appendEscapedJSON(dst, b.input)
			}
			dst = append(dst, `"}`...)
			if sig != nil { // a Gemini thought signature, back where it came from
				dst = appendExtraContent(dst, sig)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendStringOr appends raw when it is a JSON string, else def.
func appendStringOr(dst, raw []byte, def string) []byte {
	if isString(raw) {
		return append(dst, raw...)
	}
	return append(dst, def...)
}
