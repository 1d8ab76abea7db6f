package toanthropic

import (
	"bytes"
	"errors"

	"github.com/tidwall/gjson"

	"github.com/ccproxy/ccproxy/internal/jsonw"
)

// blockKind is the kind of the open content block.
type blockKind uint8

const (
	blockNone blockKind = iota
	blockText
	blockThinking
	blockTool
)

// errMalformed reports an upstream chunk that is not valid JSON.
var errMalformed = errors.New("toanthropic: malformed upstream chunk")

// Stream translates one streamed OpenAI chat completion into Anthropic
// stream events. Call Start, then Event for every upstream SSE data payload,
// then Finish when the upstream body ends; each appends complete events to
// dst. A Stream is not safe for concurrent use; Reset makes it reusable (for
// a sync.Pool), keeping its buffers.
type Stream struct {
	cfg Config

	started, done  bool
	finished       bool // a finish_reason was read
	sawDone        bool // "[DONE]" was read
	usageSeen      bool
	deltaSent      bool
	contentStarted bool
	toolUsed       bool
	knownFinish    bool

	finishReason string // raw upstream finish_reason (known values are constants)
	stopReason   string
	stopSeq      string
	stopSeqSet   bool
	usage        Usage
	outBytes     int // emitted content bytes, for the output estimate

	nextIndex   int
	open        blockKind
	openToolIdx int
	textIndex   int // block index of the open text/thinking block
	sig         sigHash

	tools       []toolCall
	droppedSigs int    // see DroppedSignatures
	sigBuf      []byte // an escaped signature, decoded

	// Reading buffers, reused from chunk to chunk (see readChunk).
	scan  scanner
	frags []toolFrag
	parts []contentPart
}

// NewStream returns a Stream for one response.
func NewStream(cfg Config) *Stream {
	s := &Stream{}
	s.Reset(cfg)
	return s
}

// maxKeptNest bounds the scanner nesting stack a reused Stream keeps.
const maxKeptNest = 1 << 10

// Reset prepares s for a new response, keeping its buffers.
func (s *Stream) Reset(cfg Config) {
	if cfg.MessageID == "" {
		cfg.MessageID = newMessageID()
	}
	tools, frags, parts, nest, sigBuf := s.tools[:0], s.frags[:0], s.parts[:0], s.scan.nest[:0], s.sigBuf[:0]
	// Fragments and parts view the last upstream read: drop those views so
	// a pooled Stream does not keep a read buffer alive.
	clear(frags[:cap(frags)])
	clear(parts[:cap(parts)])
	if cap(nest) > maxKeptNest {
		nest = nil // a hostile, deeply nested chunk must not pin memory in the pool
	}
	if cap(sigBuf) > maxSignature {
		sigBuf = nil
	}
	*s = Stream{cfg: cfg, tools: tools, frags: frags, parts: parts, scan: scanner{nest: nest}, sigBuf: sigBuf}
}

// Start appends the message_start event. It is emitted only once; Event and
// Finish call it themselves if the caller has not.
func (s *Stream) Start(dst []byte) []byte {
	if s.started {
		return dst
	}
	s.started = true
	dst = append(dst, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"...)
	dst = jsonw.AppendString(dst, s.cfg.MessageID)
	dst = append(dst, `,"type":"message","role":"assistant","model":`...)
	dst = jsonw.AppendString(dst, s.cfg.Model)
	dst = append(dst, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
	dst = appendUsage(dst, Usage{InputTokens: max(s.cfg.InputTokens, 0), OutputTokens: 1})
	return append(dst, "}}\n\n"...)
}

// Done reports that the Anthropic stream is complete (message_stop emitted).
func (s *Stream) Done() bool { return s.done }

// ContentStarted reports whether any content block has started (for
// time-to-first-token measurements).
func (s *Stream) ContentStarted() bool { return s.contentStarted }

// StopReason returns the Anthropic stop reason ("" until known, and for a
// failed stream).
func (s *Stream) StopReason() string { return s.stopReason }

// FinishReason returns the upstream's raw finish_reason ("" if none arrived).
func (s *Stream) FinishReason() string { return s.finishReason }

// UnknownFinish reports that the upstream's finish_reason was not one the
// package knows; it was mapped to end_turn (or tool_use). Worth a warning log.
func (s *Stream) UnknownFinish() bool { return s.finished && !s.knownFinish }

// Usage returns the usage reported in message_delta (the upstream's if it
// sent any, else the estimate; see the package documentation).
func (s *Stream) Usage() Usage {
	if s.usageSeen {
		return s.usage
	}
	return Usage{InputTokens: max(s.cfg.InputTokens, 0), OutputTokens: (s.outBytes + 3) / 4}
}

// Event translates one upstream SSE data payload (a chat.completion.chunk
// JSON or "[DONE]") and appends 0..n complete Anthropic events to dst.
//
// A non-nil error means the stream failed: the chunk was not valid JSON
// (a generic error) or carried an upstream error object (*UpstreamError):
// {"error":{...}}, or an object whose "object" is "error".
// The returned bytes then already hold the error event and the events that
// end the stream, Done reports true, and the caller should write them and
// stop reading. After Done, Event appends nothing.
func (s *Stream) Event(dst, data []byte) ([]byte, error) {
	if s.done {
		return dst, nil
	}
	dst = s.Start(dst)
	data = bytes.TrimSpace(data)
	if string(data) == "[DONE]" {
		s.sawDone = true
		return s.maybeEnd(dst), nil
	}
	if len(data) == 0 {
		return dst, nil
	}
	var c chunk
	if !s.readChunk(view(data), &c) {
		return s.fail(dst, "api_error", `"upstream sent a malformed stream chunk"`), errMalformed
	}
	errRaw := c.errRaw
	if (errRaw == "" || errRaw == "null") && isStr(c.object) && strValue(c.object) == "error" {
		errRaw = view(data) // the error object itself, unwrapped (older vLLM)
	}
	if errRaw != "" && errRaw != "null" {
		errObj := gjson.Parse(errRaw) // cold path: once per failed stream
		e := &UpstreamError{Type: errorType(errObj), Message: errorMessage(errObj)}
		return s.fail(dst, e.Type, errorMessageRaw(errObj)), e
	}
	usage := c.usageRaw
	if c.choices && c.choice.obj {
		if usage == "" || usage[0] != '{' {
			usage = c.choice.usage // Moonshot: usage inside the finishing choice
		}
		dst = s.choice(dst, &c.choice)
	}
	if usage != "" && usage[0] == '{' {
		s.usage = parseUsage(gjson.Parse(usage))
		s.usageSeen = true
	}
	return s.maybeEnd(dst), nil
}

func errorMessage(e gjson.Result) string {
	if m := e.Get("message"); e.IsObject() && m.Type == gjson.String {
		return m.String()
	}
	return e.String()
}

// choice applies choices[0] of a chunk (its tool call fragments are
// s.frags).
func (s *Stream) choice(dst []byte, c *choiceFields) []byte {
	if c.delta {
		reasoning := c.reasoning // an empty one defers to "reasoning"
		if !nonEmptyStr(reasoning) {
			reasoning = c.reasoningAlt
		}
		if nonEmptyStr(reasoning) && s.cfg.Thinking {
			dst = s.textDelta(dst, blockThinking, reasoning)
		}
		if nonEmptyStr(c.content) {
			dst = s.textDelta(dst, blockText, c.content)
		}
		if c.contentParts { // Mistral: text and thinking parts, in order
			for _, p := range s.parts {
				switch {
				case !nonEmptyStr(p.raw):
				case !p.thinking:
					dst = s.textDelta(dst, blockText, p.raw)
				case s.cfg.Thinking:
					dst = s.textDelta(dst, blockThinking, p.raw)
				}
			}
		}
		if nonEmptyStr(c.refusal) { // a refusal is the answer's text, as in Message
			dst = s.textDelta(dst, blockText, c.refusal)
		}
		if c.toolCalls {
			for i := range s.frags {
				dst = s.toolFragment(dst, &s.frags[i])
			}
		}
	}
	if isStr(c.finish) && !s.finished {
		s.finished = true
		s.finishReason = finishString(strValue(c.finish))
		s.stopReason, s.knownFinish = mapFinish(s.finishReason, s.toolUsed)
		if len(s.cfg.StopSequences) > 0 && s.stopReason == stopEndTurn {
			if seq, ok := matchedStop(gjson.Parse(c.raw), s.cfg.StopSequences); ok {
				s.stopReason, s.stopSeq, s.stopSeqSet = stopStopSequence, seq, true
			}
		}
		dst = s.flushWaitingTools(dst)
	}
	return dst
}

// finishString returns a constant for known finish reasons (no allocation)
// and a copy otherwise (the input points into the caller's chunk).
func finishString(r string) string {
	switch r {
	case "stop":
		return "stop"
	case "length":
		return "length"
	case "tool_calls":
		return "tool_calls"
	case "function_call":
		return "function_call"
	case "content_filter":
		return "content_filter"
	}
	return string([]byte(r))
}

// textDelta appends a text_delta or thinking_delta, opening the block first
// when needed. raw is a non-empty raw JSON string.
func (s *Stream) textDelta(dst []byte, kind blockKind, raw string) []byte {
	if s.open != kind {
		dst = s.closeOpen(dst)
		s.open = kind
		s.textIndex = s.nextIndex
		s.nextIndex++
		s.contentStarted = true
		dst = blockStartHead(dst, s.textIndex)
		if kind == blockText {
			dst = append(dst, `{"type":"text","text":""}}`+"\n\n"...)
		} else {
			dst = append(dst, `{"type":"thinking","thinking":""}}`+"\n\n"...)
			s.sig = fnvOffset
		}
	}
	s.outBytes += len(raw) - 2
	if kind == blockText {
		dst = deltaHead(dst, s.textIndex, "text_delta")
		dst = append(dst, `"text":`...)
	} else {
		s.sig.writeRaw(inner(raw))
		dst = deltaHead(dst, s.textIndex, "thinking_delta")
		dst = append(dst, `"thinking":`...)
	}
	dst = append(dst, raw...)
	return append(dst, "}}\n\n"...)
}

// closeOpen stops the open block, if any.
func (s *Stream) closeOpen(dst []byte) []byte {
	switch s.open {
	case blockText:
		dst = blockStop(dst, s.textIndex)
	case blockThinking:
		dst = deltaHead(dst, s.textIndex, "signature_delta")
		dst = append(dst, `"signature":"`...)
		dst = s.sig.appendSignature(dst)
		dst = append(dst, "\"}}\n\n"...)
		dst = blockStop(dst, s.textIndex)
	case blockTool:
		dst = s.closeTool(dst)
	}
	s.open = blockNone
	return dst
}

// maybeEnd ends the message once the choice finished and usage or [DONE]
// arrived, or at [DONE] without a finish_reason.
func (s *Stream) maybeEnd(dst []byte) []byte {
	if s.done || !(s.finished && s.usageSeen || s.sawDone) {
		return dst
	}
	if !s.finished {
		s.finished, s.knownFinish = true, true
		s.stopReason, _ = mapFinish("stop", s.toolUsed)
		dst = s.flushWaitingTools(dst)
	}
	return s.endFinished(dst)
}

// endFinished ends a message whose choice finished: after an error event
// when its finish_reason is one mapFinish does not know.
func (s *Stream) endFinished(dst []byte) []byte {
	if !s.knownFinish && !s.deltaSent {
		dst = ErrorEvent(dst, "api_error", unknownFinishMessage(s.finishReason))
	}
	return s.end(dst)
}

// end appends message_delta (once) and message_stop.
func (s *Stream) end(dst []byte) []byte {
	dst = s.closeOpen(dst)
	if !s.deltaSent {
		s.deltaSent = true
		dst = append(dst, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{"...)
		dst = appendStop(dst, s.stopReason, s.stopSeq, s.stopSeqSet)
		dst = append(dst, `},"usage":`...)
		dst = appendUsage(dst, s.Usage())
		dst = append(dst, "}\n\n"...)
	}
	s.done = true
	return append(dst, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...)
}

// fail appends an error event and ends the stream; rawMessage is a raw JSON
// string. Calls still waiting in buffers are dropped.
func (s *Stream) fail(dst []byte, errType, rawMessage string) []byte {
	dst = errorEventRaw(dst, errType, rawMessage)
	return s.end(dst)
}

// Finish ends the translation when the upstream body has ended; err is the
// read error, or nil at EOF. A cleanly finished choice (finish_reason read,
// err nil) closes its blocks and ends with message_delta and message_stop.
// Otherwise an error event comes first (an *Error's type and message, else
// an api_error "upstream stream ended unexpectedly: ..."), then the open block is closed, then message_delta (stop_reason
// as mapped, or null without a finish_reason) and message_stop. Finish always
// leaves the stream Done; after that it appends nothing, so calling it again
// (or after Event already ended the stream) is harmless.
func (s *Stream) Finish(dst []byte, err error) []byte {
	if s.done {
		return dst
	}
	dst = s.Start(dst)
	if err == nil && s.finished {
		return s.endFinished(dst)
	}
	var own *Error
	if errors.As(err, &own) {
		dst = ErrorEvent(dst, own.Type, own.Message)
		return s.end(dst)
	}
	reason := "no finish_reason and no [DONE]"
	if err != nil {
		reason = err.Error()
	}
	msg := append(make([]byte, 0, 64), "upstream stream ended unexpectedly: "...)
	msg = append(msg, reason...)
	dst = ErrorEvent(dst, "api_error", view(msg))
	return s.end(dst)
}
