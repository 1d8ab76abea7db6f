package toanthropic

import (
	"errors"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/ccproxy/ccproxy/internal/jsonw"
)

// errNoChoices reports a chat.completion without any choice.
var errNoChoices = errors.New("toanthropic: upstream response has no choices")

// Message translates a non-streamed chat.completion JSON body into an
// Anthropic message JSON appended to dst, and returns the usage and the
// stop reason.
//
// Content is, in order: the thinking (message.reasoning_content or
// message.reasoning), the text (a string, or an array of parts: text parts
// and Mistral's thinking parts, in order; message.refusal when there is no
// text), and one tool_use block per tool call. Thinking is kept only when
// cfg.Thinking and signed with ThinkingSignature; consecutive pieces of one
// kind form one block, as consecutive deltas do in Stream. A tool call's
// arguments become its input when they are a JSON object; empty arguments
// become {}; anything else (invalid JSON, or a JSON value that is not an
// object) is kept as {"_raw": "<arguments string>"} rather than failing the
// turn. An answer without any content has "content":[] (as Anthropic sends
// when, e.g., the output stops at once). Stop reason and usage follow the
// same rules as Stream (see the package documentation).
//
// Errors: a body that is not valid JSON, has no choices, is an error
// object (*UpstreamError: {"error":{...}}, or an object whose "object" is
// "error"), or ends with a finish_reason mapFinish does not know (an
// *UpstreamError of type api_error) yields an error and dst unchanged.
func Message(dst, body []byte, cfg Config) ([]byte, Usage, string, error) {
	if !gjson.ValidBytes(body) {
		return dst, Usage{}, "", errors.New("toanthropic: upstream response is not valid JSON")
	}
	root := gjson.Parse(view(body))
	e := root.Get("error")
	if !e.Exists() || e.Type == gjson.Null {
		if o := root.Get("object"); o.Type == gjson.String && o.Str == "error" {
			e = root // the error object itself, unwrapped (older vLLM)
		}
	}
	if e.Exists() && e.Type != gjson.Null {
		return dst, Usage{}, "", &UpstreamError{Type: errorType(e), Message: errorMessage(e)}
	}
	choice := root.Get("choices.0")
	if !choice.IsObject() {
		return dst, Usage{}, "", errNoChoices
	}
	finish := choice.Get("finish_reason").Str
	if _, known := mapFinish(finish, false); finish != "" && !known {
		return dst, Usage{}, "", &UpstreamError{Type: "api_error", Message: unknownFinishMessage(finish)}
	}
	msg := choice.Get("message")
	toolCalls := msg.Get("tool_calls")

	id := cfg.MessageID
	if id == "" {
		id = newMessageID()
	}
	dst = append(dst, `{"id":`...)
	dst = jsonw.AppendString(dst, id)
	dst = append(dst, `,"type":"message","role":"assistant","model":`...)
	dst = jsonw.AppendString(dst, cfg.Model)
	dst = append(dst, `,"content":[`...)
	n := 0
	outBytes := 0 // emitted content bytes, for the output estimate (as Stream)
	sep := func() {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
	}
	// Text and thinking pieces in order; consecutive pieces of one kind form
	// one block, as consecutive deltas do in Stream.
	var piecesBuf [8]contentPart
	pieces := piecesBuf[:0]
	add := func(thinking bool, r gjson.Result) {
		if r.Type == gjson.String && r.Str != "" && (!thinking || cfg.Thinking) {
			pieces = append(pieces, contentPart{thinking: thinking, raw: r.Raw})
		}
	}
	r := msg.Get("reasoning_content") // an empty one defers to "reasoning"
	if r.Type != gjson.String || r.Str == "" {
		r = msg.Get("reasoning")
	}
	add(true, r)
	hasText := false
	switch content := msg.Get("content"); {
	case content.Type == gjson.String:
		add(false, content)
	case content.IsArray():
		// Parts (Mistral): {"type":"text","text":...} and
		// {"type":"thinking","thinking":[{"type":"text","text":...}]}.
		content.ForEach(func(_, part gjson.Result) bool {
			switch typ := part.Get("type"); {
			case typ.Str == "thinking":
				th := part.Get("thinking")
				if th.Type == gjson.String {
					add(true, th)
				}
				th.ForEach(func(_, sub gjson.Result) bool {
					if t := sub.Get("type"); !t.Exists() || t.Str == "text" {
						add(true, sub.Get("text"))
					}
					return true
				})
			case !typ.Exists() || typ.Str == "text":
				add(false, part.Get("text"))
			}
			return true
		})
	}
	for _, p := range pieces {
		hasText = hasText || !p.thinking
	}
	if r := msg.Get("refusal"); !hasText {
		add(false, r)
	}
	for i := 0; i < len(pieces); {
		j := i + 1
		for j < len(pieces) && pieces[j].thinking == pieces[i].thinking {
			j++
		}
		sep()
		if pieces[i].thinking {
			dst = append(dst, `{"type":"thinking","thinking":"`...)
		} else {
			dst = append(dst, `{"type":"text","text":"`...)
		}
		h := fnvOffset
		for _, p := range pieces[i:j] {
			outBytes += len(p.raw) - 2
			h.writeRaw(inner(p.raw))
			dst = append(dst, inner(p.raw)...)
		}
		dst = append(dst, '"')
		if pieces[i].thinking {
			dst = append(dst, `,"signature":"`...)
			dst = h.appendSignature(dst)
			dst = append(dst, '"')
		}
		dst = append(dst, '}')
		i = j
	}
	toolUsed := false
	toolCalls.ForEach(func(_, tc gjson.Result) bool {
		fn := tc.Get("function")
		if !fn.IsObject() {
			return true
		}
		toolUsed = true
		sep()
		dst = append(dst, `{"type":"tool_use","id":`...)
		sig := tc.Get("extra_content.google.thought_signature")
		carry := sig.Type == gjson.String && sig.Str != "" && len(sig.Str) <= maxSignature
		if id := tc.Get("id"); id.Type == gjson.String && id.Str != "" {
			carry = carry && !strings.Contains(id.Raw, SignatureMarker)
			dst = append(dst, id.Raw[:len(id.Raw)-1]...)
		} else {
			dst = append(dst, '"')
			dst = appendID(dst, "toolu_")
		}
		if carry {
			dst = appendSigPayload(dst, sig.Str)
		}
		dst = append(dst, '"')
		dst = append(dst, `,"name":`...)
		if name := fn.Get("name"); name.Type != gjson.String {
			dst = append(dst, `""`...)
		} else if client, ok := cfg.ToolNames[name.Str]; ok {
			dst = jsonw.AppendString(dst, client)
		} else {
			dst = append(dst, name.Raw...)
		}
		dst = append(dst, `,"input":`...)
		args := fn.Get("arguments")
		outBytes += argBytes(args)
		dst = appendInput(dst, args)
		dst = append(dst, '}')
		return true
	})
	dst = append(dst, "],"...)

	stop, _ := mapFinish(finish, toolUsed)
	if finish == "" && !toolUsed {
		stop = stopEndTurn
	}
	seq, seqSet := matchedStop(choice, cfg.StopSequences)
	if seqSet && stop == stopEndTurn {
		stop = stopStopSequence
	} else {
		seqSet = false
	}
	dst = appendStop(dst, stop, seq, seqSet)
	var usage Usage
	if u := root.Get("usage"); u.IsObject() {
		usage = parseUsage(u)
	} else {
		usage = Usage{InputTokens: max(cfg.InputTokens, 0), OutputTokens: (outBytes + 3) / 4}
	}
	dst = append(dst, `,"usage":`...)
	dst = appendUsage(dst, usage)
	dst = append(dst, '}')
	return dst, usage, stop, nil
}

// argBytes returns the bytes Stream would emit as input_json_delta for a
// call with these arguments: the raw string contents, or "{}" for none.
func argBytes(args gjson.Result) int {
	switch {
	case args.Type == gjson.String && strings.TrimSpace(args.Str) != "":
		return len(args.Raw) - 2
	case args.Type == gjson.JSON:
		return len(args.Raw)
	}
	return 2
}

// appendInput appends a tool_use input object built from OpenAI arguments.
func appendInput(dst []byte, args gjson.Result) []byte {
	switch args.Type {
	case gjson.JSON:
		if args.IsObject() {
			return append(dst, args.Raw...)
		}
	case gjson.String:
		s := strings.TrimSpace(args.Str)
		if s == "" {
			return append(dst, "{}"...)
		}
		if s[0] == '{' && gjson.Valid(s) {
			return append(dst, s...)
		}
	case gjson.Null:
		return append(dst, "{}"...)
	}
	if !args.Exists() {
		return append(dst, "{}"...)
	}
	dst = append(dst, `{"_raw":`...)
	if args.Type == gjson.String {
		dst = append(dst, args.Raw...)
	} else {
		dst = jsonw.AppendString(dst, args.Raw)
	}
	return append(dst, '}')
}
