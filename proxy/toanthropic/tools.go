package toanthropic

import (
	"strings"

	"github.com/ccproxy/ccproxy/internal/jsonw"
	"github.com/tidwall/gjson"
)

// toolState is where a tool call is in its life.
type toolState uint8

const (
	toolWaiting toolState = iota // fragments are buffered in pending
	toolOpen                     // its block is the open block
	toolClosed                   // its block was stopped; late fragments are dropped
)

// toolCall is one OpenAI tool call being translated.
type toolCall struct {
	oaIndex int64
	id      []byte // raw JSON string (quoted), empty until known
	name    []byte // raw JSON string (quoted), empty until known
	pending []byte // buffered argument bytes: raw JSON string contents
	sig     []byte // SignatureMarker and the encoded thought signature
	sigSet  bool   // sig holds a signature
	state   toolState
	scan    argScan
	block   int // Anthropic block index once opened
}

// argScan follows the decoded argument text just far enough to know when it
// is a complete JSON value. It is fed the raw (escaped) JSON string contents
// of each fragment, and decodes the escapes that matter to the structure.
type argScan struct {
	depth    int
	inStr    bool
	esc      bool
	started  bool
	complete bool
	nonSpace bool
}

func (a *argScan) feed(raw string) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+1 < len(raw) { // a JSON escape in the outer string
			i++
			switch raw[i] {
			case '"', '\\', '/':
				c = raw[i]
			case 'u':
				r, n := decodeU(raw[i-1:])
				i += n - 2
				c = 'x' // any non-structural, non-space character
				if r < 0x80 {
					c = byte(r)
				}
			case 'n', 'r', 't':
				c = ' '
			default:
				c = 'x'
			}
		}
		a.step(c)
	}
}

func (a *argScan) step(c byte) {
	if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
		a.nonSpace = true
	}
	if a.inStr {
		switch {
		case a.esc:
			a.esc = false
		case c == '\\':
			a.esc = true
		case c == '"':
			a.inStr = false
		}
		return
	}
	switch c {
	case '"':
		a.inStr = true
	case '{', '[':
		a.depth++
		a.started = true
	case '}', ']':
		a.depth--
		if a.started && a.depth == 0 {
			a.complete = true
		}
	}
}

// tool returns the call a fragment belongs to, creating it when needed.
// id is the fragment's raw id: a non-empty JSON string, or "". opens reports
// that the fragment's arguments start a JSON object.
func (s *Stream) tool(index int64, id string, opens bool) *toolCall {
	var inherit *toolCall
	for i := len(s.tools) - 1; i >= 0; i-- {
		t := &s.tools[i]
		if t.oaIndex != index {
			continue
		}
		// Upstreams that number every call 0 tell calls apart by id only.
		if id != "" && len(t.id) > 0 && len(t.name) > 0 && string(t.id) != id {
			t.scan.complete = true // superseded: no fragment can reach it any more
			break
		}
		// Some relays (Gemini behind one) send a second call at the same
		// index with neither id nor name: a new object after a complete
		// one. Appending it would make the input invalid JSON.
		if id == "" && opens && t.scan.complete && len(t.name) > 0 {
			inherit = t
			break
		}
		return t
	}
	if len(s.tools) < cap(s.tools) {
		s.tools = s.tools[:len(s.tools)+1]
	} else {
		s.tools = append(s.tools, toolCall{})
	}
	t := &s.tools[len(s.tools)-1]
	t.oaIndex = index
	t.id, t.name, t.pending, t.sig, t.sigSet = t.id[:0], t.name[:0], t.pending[:0], t.sig[:0], false
	t.state, t.scan, t.block = toolWaiting, argScan{}, 0
	if inherit != nil { // if s.tools grew, inherit is in the old array, intact
		t.name = append(t.name, inherit.name...)
	}
	return t
}

// opensObject reports that raw JSON string contents start, after
// whitespace, with '{'.
func opensObject(raw string) bool {
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == ' ':
		case c == '\\' && i+1 < len(raw) && (raw[i+1] == 'n' || raw[i+1] == 't' || raw[i+1] == 'r'):
			i++
		default:
			return c == '{'
		}
	}
	return false
}

// toolFragment handles one tool_calls[] element of a delta.
func (s *Stream) toolFragment(dst []byte, f *toolFrag) []byte {
	s.toolUsed = true
	id := f.id
	if !nonEmptyStr(id) {
		id = ""
	}
	t := s.tool(toolIndex(f.index, f.pos), id, isStr(f.args) && opensObject(inner(f.args)) || f.args != "" && f.args[0] == '{')
	if len(t.id) == 0 && id != "" {
		t.id = append(t.id, id...)
	}
	if len(t.name) == 0 && nonEmptyStr(f.name) {
		t.name = append(t.name, f.name...)
	}
	if nonEmptyStr(f.sig) {
		s.setSignature(t, f.sig)
	}
	var frag string
	argsJSON := f.args != "" && (f.args[0] == '{' || f.args[0] == '[')
	switch {
	case isStr(f.args):
		frag = inner(f.args)
	case argsJSON: // an upstream that sends arguments as an object
		frag = f.args
	}
	if t.state == toolClosed {
		return dst
	}
	if argsJSON {
		// Raw JSON, not string contents: escape it into pending.
		t.scan.feedPlain(frag)
		n := len(t.pending)
		t.pending = jsonw.AppendString(t.pending, frag)
		copy(t.pending[n:], t.pending[n+1:])
		t.pending = t.pending[:len(t.pending)-2]
		frag = ""
	} else if frag != "" {
		t.scan.feed(frag)
	}
	if t.state == toolOpen {
		if len(t.pending) > 0 {
			dst = s.flushPending(dst, t)
		}
		if frag != "" {
			dst = s.argDelta(dst, t.block, frag)
		}
		return dst
	}
	t.pending = append(t.pending, frag...)
	// Make room: text or thinking before tool calls is over; an open call
	// whose JSON is complete is over.
	switch s.open {
	case blockText, blockThinking:
		dst = s.closeOpen(dst)
	case blockTool:
		if s.tools[s.openToolIdx].scan.complete {
			dst = s.closeOpen(dst)
		}
	}
	if s.open == blockNone {
		for i := range s.tools {
			if w := &s.tools[i]; w.state == toolWaiting && len(w.name) > 0 {
				dst = s.openToolBlock(dst, i)
				break
			}
		}
	}
	return dst
}

func (a *argScan) feedPlain(s string) {
	for i := 0; i < len(s); i++ {
		a.step(s[i])
	}
}

// openToolBlock starts the block of s.tools[i] and flushes its buffer.
func (s *Stream) openToolBlock(dst []byte, i int) []byte {
	t := &s.tools[i]
	t.state = toolOpen
	t.block = s.nextIndex
	s.nextIndex++
	s.open, s.openToolIdx = blockTool, i
	s.contentStarted = true
	dst = blockStartHead(dst, t.block)
	dst = append(dst, `{"type":"tool_use","id":`...)
	if len(t.id) == 0 {
		t.id = append(t.id, '"')
		t.id = appendID(t.id, "toolu_")
		t.id = append(t.id, '"')
	}
	dst = s.appendToolID(dst, t)
	dst = append(dst, `,"name":`...)
	if len(t.name) == 0 {
		dst = append(dst, `""`...)
	} else if name, ok := s.clientName(t.name); ok {
		dst = jsonw.AppendString(dst, name)
	} else {
		dst = append(dst, t.name...)
	}
	dst = append(dst, `,"input":{}}}`+"\n\n"...)
	if len(t.pending) > 0 {
		dst = s.flushPending(dst, t)
	}
	return dst
}

// clientName returns the client's name for raw, a tool name as the upstream
// sent it (a quoted JSON string), when it names an alias in
// Config.ToolNames. The lookup is on the decoded name, as Message's is: an
// upstream may escape any character.
func (s *Stream) clientName(raw []byte) (string, bool) {
	if len(s.cfg.ToolNames) == 0 {
		return "", false
	}
	in := view(raw[1 : len(raw)-1])
	if strings.IndexByte(in, '\\') >= 0 {
		in = gjson.Parse(view(raw)).Str // allocates; aliases are plain ASCII, so rare
	}
	name, ok := s.cfg.ToolNames[in]
	return name, ok
}

func (s *Stream) flushPending(dst []byte, t *toolCall) []byte {
	dst = s.argDelta(dst, t.block, view(t.pending))
	t.pending = t.pending[:0]
	return dst
}

// argDelta appends an input_json_delta whose partial_json is the raw JSON
// string contents frag.
func (s *Stream) argDelta(dst []byte, index int, frag string) []byte {
	s.outBytes += len(frag)
	dst = deltaHead(dst, index, "input_json_delta")
	dst = append(dst, `"partial_json":"`...)
	dst = append(dst, frag...)
	return append(dst, "\"}}\n\n"...)
}

// closeTool stops the open tool block, giving an argument-less call "{}".
func (s *Stream) closeTool(dst []byte) []byte {
	t := &s.tools[s.openToolIdx]
	if !t.scan.nonSpace {
		dst = s.argDelta(dst, t.block, "{}")
	}
	t.state = toolClosed
	return blockStop(dst, t.block)
}

// flushWaitingTools opens, flushes and closes every call still waiting, in
// order of appearance (at the end of a cleanly finished choice).
func (s *Stream) flushWaitingTools(dst []byte) []byte {
	for i := range s.tools {
		if s.tools[i].state == toolWaiting {
			dst = s.closeOpen(dst)
			dst = s.openToolBlock(dst, i)
		}
	}
	return s.closeOpen(dst)
}
