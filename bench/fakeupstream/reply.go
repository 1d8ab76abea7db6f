package fakeupstream

import (
	"encoding/hex"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"

	"github.com/ccproxy/ccproxy/internal/jsonw"
)

// Constants of every reply, so that replies are deterministic.
const (
	created     = 1735689600 // 2025-01-01T00:00:00Z
	fingerprint = "fp_ccproxy_demo"
	// BashCommand is what the tool-call policy asks Bash to run.
	BashCommand = "echo hello from the ccproxy demo upstream"
	// BashArguments are the arguments of the Bash tool call.
	BashArguments = `{"command":"echo hello from the ccproxy demo upstream","description":"Say hello"}`
	// ReplyPrefix starts every plain text reply.
	ReplyPrefix = "This is the ccproxy demo upstream."
	// ToolResultPrefix starts the reply to a tool result.
	ToolResultPrefix = "The command printed: "
	reasoningText    = "The user wrote to the demo upstream. I will answer with its fixed, deterministic reply."
	lorem            = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum."
	reasoningChunks  = 3
	maxToolFragments = 5
)

// replyKind is the shape of a reply chosen by the policy.
type replyKind uint8

const (
	kindText replyKind = iota
	kindToolCall
	kindToolResult
	kindLength
)

// replyKey identifies a pre-rendered reply. Its strings may point into a
// request body during lookup; stored keys own copies.
type replyKey struct {
	kind         replyKind
	stream       bool
	includeUsage bool
	reasoning    bool
	chunks       int
	replyBytes   int
	maxTokens    int64
	model        string
	echo         string
	tool         string
}

// reply is the pre-rendered, request-independent part of an answer. Only
// the usage object (it depends on the request size) is rendered per
// request.
type reply struct {
	// events are the complete SSE events from the role chunk to the finish
	// chunk ("data: {...}\n\n" each).
	events [][]byte
	// usagePrefix precedes the usage object in the final usage event;
	// usageSuffix follows it (streams with include_usage only).
	usagePrefix, usageSuffix []byte
	// unaryPrefix and unarySuffix surround the usage object of a unary body.
	unaryPrefix, unarySuffix []byte
	completionTokens         int
	reasoningTokens          int
}

// choose applies the reply policy to a parsed request.
func choose(req *request, o *Options) replyKey {
	k := replyKey{
		stream:       req.stream,
		includeUsage: req.stream && req.includeUsage,
		reasoning:    o.Reasoning && req.reasoning,
		chunks:       o.Chunks,
		replyBytes:   o.ReplyBytes,
		maxTokens:    -1,
		model:        req.model,
	}
	switch {
	case req.maxTokens >= 0 && req.maxTokens < 5:
		k.kind, k.maxTokens = kindLength, req.maxTokens
		k.replyBytes = 0
	case req.lastRole == "tool":
		k.kind, k.echo = kindToolResult, req.lastText
		k.replyBytes = 0
	case req.tool != "" && req.lastRole == "user" && !o.TextOnly:
		k.kind, k.tool = kindToolCall, req.tool
		k.replyBytes, k.chunks = 0, min(k.chunks, maxToolFragments)
	default:
		k.kind = kindText
		if req.lastRole == "user" {
			k.echo = req.lastText
		}
	}
	return k
}

// String names the kind.
func (k replyKind) String() string {
	switch k {
	case kindToolCall:
		return "tool_call"
	case kindToolResult:
		return "tool_result"
	case kindLength:
		return "length"
	}
	return "text"
}

// text returns the reply text for text-like kinds.
func (k *replyKey) text() string {
	switch k.kind {
	case kindToolResult:
		return ToolResultPrefix + k.echo
	case kindLength:
		n := int(max(k.maxTokens, 1)) * 4
		return truncateRunes(ReplyPrefix, n)
	}
	var b strings.Builder
	b.WriteString(ReplyPrefix)
	if k.echo != "" {
		b.WriteString(" You said: ")
		b.WriteString(k.echo)
	}
	for b.Len() < k.replyBytes {
		b.WriteByte(' ')
		rest := k.replyBytes - b.Len()
		if rest >= len(lorem) {
			b.WriteString(lorem)
			continue
		}
		// cut the lorem at a word boundary at or after rest bytes
		cut := strings.IndexByte(lorem[rest:], ' ')
		if cut < 0 {
			b.WriteString(lorem)
		} else {
			b.WriteString(lorem[:rest+cut])
		}
	}
	return b.String()
}

func (k *replyKey) finishReason() string {
	switch k.kind {
	case kindLength:
		return "length"
	case kindToolCall:
		return "tool_calls"
	}
	return "stop"
}

func (k *replyKey) hash() []byte {
	h := fnv.New64a()
	var b [48]byte
	buf := strconv.AppendInt(b[:0], int64(k.kind), 10)
	buf = strconv.AppendBool(buf, k.stream)
	buf = strconv.AppendInt(buf, int64(k.chunks), 10)
	buf = strconv.AppendInt(buf, int64(k.replyBytes), 10)
	buf = strconv.AppendInt(buf, k.maxTokens, 10)
	h.Write(buf)
	h.Write([]byte(k.model))
	h.Write([]byte{0})
	h.Write([]byte(k.echo))
	h.Write([]byte{0})
	h.Write([]byte(k.tool))
	return h.Sum(nil)
}

// render builds the reply for k.
func render(k replyKey) *reply {
	sum := k.hash()
	id := "chatcmpl-ccproxy" + hex.EncodeToString(sum)
	callID := "call_ccproxy" + hex.EncodeToString(sum[:6])
	r := &reply{}

	var text, args string
	if k.kind == kindToolCall {
		if k.tool == "Bash" {
			args = BashArguments
		} else {
			args = "{}"
		}
	} else {
		text = k.text()
	}
	if k.reasoning {
		r.reasoningTokens = max(len(reasoningText)/4, 1)
	}
	r.completionTokens = max((len(text)+len(args))/4, 1) + r.reasoningTokens

	if !k.stream {
		b := []byte(`{"id":"`)
		b = append(b, id...)
		b = append(b, `","object":"chat.completion","created":`...)
		b = strconv.AppendInt(b, created, 10)
		b = append(b, `,"model":`...)
		b = jsonw.AppendString(b, k.model)
		b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
		if k.kind == kindToolCall {
			b = append(b, "null"...)
		} else {
			b = jsonw.AppendString(b, text)
		}
		if k.reasoning {
			b = append(b, `,"reasoning_content":`...)
			b = jsonw.AppendString(b, reasoningText)
		}
		if k.kind == kindToolCall {
			b = append(b, `,"tool_calls":[{"id":"`...)
			b = append(b, callID...)
			b = append(b, `","type":"function","function":{"name":`...)
			b = jsonw.AppendString(b, k.tool)
			b = append(b, `,"arguments":`...)
			b = jsonw.AppendString(b, args)
			b = append(b, "}}]"...)
		}
		b = append(b, `,"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"`...)
		b = append(b, k.finishReason()...)
		b = append(b, `"}],"usage":`...)
		r.unaryPrefix = b
		r.unarySuffix = []byte(`,"service_tier":"default","system_fingerprint":"` + fingerprint + `"}`)
		return r
	}

	head := []byte(`data: {"id":"`)
	head = append(head, id...)
	head = append(head, `","object":"chat.completion.chunk","created":`...)
	head = strconv.AppendInt(head, created, 10)
	head = append(head, `,"model":`...)
	head = jsonw.AppendString(head, k.model)
	head = append(head, `,"service_tier":"default","system_fingerprint":"`+fingerprint+`","choices":[`...)
	tail := "}\n\n"
	if k.includeUsage {
		tail = `,"usage":null}` + "\n\n"
	}
	event := func(delta []byte, finish string) []byte {
		b := make([]byte, 0, len(head)+len(delta)+len(tail)+64)
		b = append(b, head...)
		b = append(b, `{"index":0,"delta":`...)
		b = append(b, delta...)
		b = append(b, `,"logprobs":null,"finish_reason":`...)
		if finish == "" {
			b = append(b, "null"...)
		} else {
			b = append(b, '"')
			b = append(b, finish...)
			b = append(b, '"')
		}
		b = append(b, "}]"...)
		b = append(b, tail...)
		return b
	}
	r.events = append(r.events, event([]byte(`{"role":"assistant","content":"","refusal":null}`), ""))
	if k.reasoning {
		for _, p := range splitRunes(reasoningText, reasoningChunks) {
			r.events = append(r.events, event(append(jsonw.AppendString([]byte(`{"reasoning_content":`), p), '}'), ""))
		}
	}
	if k.kind == kindToolCall {
		d := []byte(`{"tool_calls":[{"index":0,"id":"`)
		d = append(d, callID...)
		d = append(d, `","type":"function","function":{"name":`...)
		d = jsonw.AppendString(d, k.tool)
		d = append(d, `,"arguments":""}}]}`...)
		r.events = append(r.events, event(d, ""))
		for _, p := range splitRunes(args, k.chunks) {
			d := jsonw.AppendString([]byte(`{"tool_calls":[{"index":0,"function":{"arguments":`), p)
			d = append(d, "}}]}"...)
			r.events = append(r.events, event(d, ""))
		}
	} else {
		for _, p := range splitRunes(text, k.chunks) {
			r.events = append(r.events, event(append(jsonw.AppendString([]byte(`{"content":`), p), '}'), ""))
		}
	}
	r.events = append(r.events, event([]byte(`{}`), k.finishReason()))
	if k.includeUsage {
		u := append([]byte(nil), head...)
		u = append(u, `],"usage":`...)
		r.usagePrefix = u
		r.usageSuffix = []byte("}\n\n")
	}
	return r
}

// appendUsage appends the OpenAI usage object.
func appendUsage(b []byte, promptTokens int, r *reply) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(promptTokens), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(r.completionTokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(promptTokens+r.completionTokens), 10)
	b = append(b, `,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":`...)
	b = strconv.AppendInt(b, int64(r.reasoningTokens), 10)
	b = append(b, `,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`...)
	return b
}

// cacheEntries bounds the reply cache.
const cacheEntries = 256

// replyCache maps reply keys to pre-rendered replies. When full it is
// emptied, which is cheap and keeps it bounded.
type replyCache struct {
	mu sync.RWMutex
	m  map[replyKey]*reply
}

func (c *replyCache) init(n int) { c.m = make(map[replyKey]*reply, n) }

func (c *replyCache) get(k replyKey) *reply {
	c.mu.RLock()
	r := c.m[k]
	c.mu.RUnlock()
	if r != nil {
		return r
	}
	k.model = strings.Clone(k.model)
	k.echo = strings.Clone(k.echo)
	k.tool = strings.Clone(k.tool)
	r = render(k)
	c.mu.Lock()
	if len(c.m) >= cacheEntries {
		clear(c.m)
	}
	c.m[k] = r
	c.mu.Unlock()
	return r
}
