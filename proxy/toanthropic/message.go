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
// Content is, in order: a thinking block (message.reasoning_content or
// message.reasoning, only when cfg.Thinking; signed with ThinkingSignature),
// the text (a string, or the text parts of an array; message.refusal when
// there is no text), and one tool_use block per tool call. A tool call's
// arguments become its input when they are a JSON object; empty arguments
// become {}; anything else (invalid JSON, or a JSON value that is not an
// object) is kept as {"_raw": "<arguments string>"} rather than failing the
// turn. An answer without any content has "content":[] (as Anthropic sends
// when, e.g., the output stops at once). Stop reason and usage follow the
// same rules as Stream (see the package documentation).
//
// Errors: a body that is not valid JSON, has no choices, or is an error
// object (*UpstreamError) yields an error and dst unchanged.
func Message(dst, body []byte, cfg Config) ([]byte, Usage, string, error) {
	if !gjson.ValidBytes(body) {
		return dst, Usage{}, "", errors.New("toanthropic: upstream response is not valid JSON")
	}
	root := gjson.Parse(view(body))
	if e := root.Get("error"); e.Exists() && e.Type != gjson.Null {
		return dst, Usage{}, "", &UpstreamError{Type: errorType(e), Message: errorMessage(e)}
	}
	choice := root.Get("choices.0")
	if !choice.IsObject() {
		return dst, Usage{}, "", errNoChoices
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
	if cfg.Thinking {
		r := msg.Get("reasoning_content")
		if r.Type != gjson.String {
			r = msg.Get("reasoning")
		}
		if r.Type == gjson.String && r.Str != "" {
			sep()
			dst = append(dst, `{"type":"thinking","thinking":`...)
			dst = append(dst, r.Raw...)
			outBytes += len(r.Raw) - 2
			dst = append(dst, `,"signature":"`...)
			h := fnvOffset
			h.writeString(r.Str)
			dst = h.appendSignature(dst)
			dst = append(dst, `"}`...)
		}
	}
	hasText := false
	appendText := func(raw string) {
		sep()
		hasText = true
		outBytes += len(raw) - 2
		dst = append(dst, `{"type":"text","text":`...)
		dst = append(dst, raw...)
		dst = append(dst, '}')
	}
	switch content := msg.Get("content"); {
	case content.Type == gjson.String && content.Str != "":
		appendText(content.Raw)
	case content.IsArray():
		content.ForEach(func(_, part gjson.Result) bool {
			if t := part.Get("text"); t.Type == gjson.String && t.Str != "" {
				appendText(t.Raw)
			}
			return true
		})
	}
	if r := msg.Get("refusal"); !hasText && r.Type == gjson.String && r.Str != "" {
		appendText(r.Raw)
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
		if id := tc.Get("id"); id.Type == gjson.String && id.Str != "" {
			dst = append(dst, id.Raw...)
		} else {
			dst = append(dst, '"')
			dst = appendID(dst, "toolu_")
			dst = append(dst, '"')
		}
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

	finish := choice.Get("finish_reason").Str
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
