package proxy

import (
	"bytes"
	"io"
	"strconv"

	"github.com/tidwall/gjson"
)

// completionAsStream turns a complete chat.completion (what an upstream
// that ignores stream:true answers) into the SSE body a streaming upstream
// would have sent: one chunk carrying the whole message as its delta, then
// [DONE]. The stream state machine then produces the usual Anthropic
// events, so the client gets a valid stream either way.
func completionAsStream(completion []byte) io.Reader {
	var b bytes.Buffer
	b.Grow(len(completion) + 64)
	b.WriteString("data: ")
	if !gjson.ValidBytes(completion) {
		b.Write(bytes.ReplaceAll(completion, []byte("\n"), nil)) // the state machine reports it as malformed
		b.WriteString("\n\n")
		return &b
	}
	doc := gjson.ParseBytes(completion)
	if e := doc.Get("error"); e.Exists() {
		b.WriteString(`{"error":`)
		b.WriteString(e.Raw)
		b.WriteString("}\n\n")
		return &b
	}
	if doc.Get("object").Str == "error" {
		// An error object without the wrapper (older vLLM): the stream's
		// chunk reader knows that shape too.
		b.Write(bytes.ReplaceAll(completion, []byte("\n"), nil))
		b.WriteString("\n\n")
		return &b
	}
	msg := doc.Get("choices.0.message")
	b.WriteString(`{"choices":[{"index":0,"delta":{"role":"assistant"`)
	for _, k := range [...]string{"content", "reasoning_content", "reasoning", "refusal"} {
		if v := msg.Get(k); v.Exists() && v.Type != gjson.Null {
			b.WriteString(`,"` + k + `":`)
			b.WriteString(v.Raw)
		}
	}
	if calls := msg.Get("tool_calls"); calls.IsArray() {
		b.WriteString(`,"tool_calls":[`)
		i := 0
		calls.ForEach(func(_, c gjson.Result) bool {
			if i > 0 {
				b.WriteByte(',')
			}
			// Streamed tool calls are keyed by index, which a complete
			// message does not carry.
			b.WriteString(`{"index":`)
			b.WriteString(strconv.Itoa(i))
			c.ForEach(func(k, v gjson.Result) bool {
				if k.Str != "index" {
					b.WriteByte(',')
					b.WriteString(k.Raw)
					b.WriteByte(':')
					b.WriteString(v.Raw)
				}
				return true
			})
			b.WriteByte('}')
			i++
			return true
		})
		b.WriteByte(']')
	}
	b.WriteString(`},"finish_reason":`)
	if f := doc.Get("choices.0.finish_reason"); f.Exists() {
		b.WriteString(f.Raw)
	} else {
		b.WriteString(`"stop"`)
	}
	b.WriteString(`}]`)
	if u := doc.Get("usage"); u.IsObject() {
		b.WriteString(`,"usage":`)
		b.WriteString(u.Raw)
	}
	b.WriteString("}\n\ndata: [DONE]\n\n")
	return &b
}
