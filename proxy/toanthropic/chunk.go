package toanthropic

import (
	"strconv"

	"github.com/tidwall/gjson"
)

// chunk is what Event reads from one chat.completion.chunk, in one pass that
// also validates the whole chunk: nothing is applied before the chunk is
// known to be valid JSON. Values are raw JSON (views into the chunk, "" when
// absent). Where a key repeats, the last occurrence counts, except for a
// choice's "index" where the first does (the rules the gjson reader had:
// ForEach for fields, Get for the index).
type chunk struct {
	errRaw   string // "error"
	object   string // "object" ("error" for an unwrapped error object)
	usageRaw string // "usage"
	choices  bool   // "choices" is an array
	choice   choiceFields
}

// choiceFields are the fields read from the first element of "choices" whose
// index is absent or 0.
type choiceFields struct {
	found bool   // such an element exists (the rest were only validated)
	obj   bool   // it is an object (otherwise nothing is read from it)
	raw   string // the whole element, for matchedStop
	index string // first "index"

	delta        bool   // "delta" is an object; the next six are its fields
	content      string // "content" when it is not an array
	contentParts bool   // "content" is an array: its parts are Stream.parts
	refusal      string // "refusal" (OpenAI streams a refusal here, content null)
	reasoning    string // "reasoning_content"
	reasoningAlt string // "reasoning"
	toolCalls    bool   // "tool_calls" is an array: its objects are Stream.frags

	finish string // "finish_reason"
	usage  string // "usage" (Moonshot sends it in the finishing choice)
}

// contentPart is one piece of an array delta.content (Mistral): the text of
// a text part, or one text of a thinking part's "thinking" (an array of
// text parts, or a string). raw is a raw JSON string, possibly empty.
type contentPart struct {
	thinking bool
	raw      string
}

// toolFrag is one object element of delta.tool_calls.
type toolFrag struct {
	pos   int    // position in tool_calls
	index string // "index"
	id    string // "id"
	name  string // "function"."name"
	args  string // "function"."arguments"
	sig   string // "extra_content"."google"."thought_signature" (Gemini)
}

// readChunk reads and validates the chunk s into c, and its tool call
// fragments into st.frags. It reports false, with c and st.frags to be
// ignored, for anything that is not valid JSON. Known fields are read by one
// function per object of the chunk schema (so recursion is bounded by the
// schema); everything else is validated by the iterative scanner.skip.
func (st *Stream) readChunk(s string, c *chunk) bool {
	st.scan.nest = st.scan.nest[:0]
	st.frags, st.parts = st.frags[:0], st.parts[:0]
	i := ws(s, 0)
	var ok bool
	if i < len(s) && s[i] == '{' {
		i, ok = st.readRoot(s, i+1, c)
	} else {
		i, ok = st.scan.skip(s, i)
	}
	return ok && ws(s, i) == len(s)
}

// readObject calls field for each member of the object whose '{' is at i-1,
// with the member's key and the position of its value; field returns the
// position after the value. It returns the position after the '}'.
// The closures passed in do not escape, so they cost no allocation.
func readObject(s string, i int, field func(key string, v int) (int, bool)) (int, bool) {
	if i = ws(s, i); i < len(s) && s[i] == '}' {
		return i + 1, true
	}
	for {
		key, v, ok := member(s, i)
		if !ok {
			return v, false
		}
		if i, ok = field(key, v); !ok {
			return i, false
		}
		var next bool
		if i, next, ok = more(s, i, '}'); !ok || !next {
			return i, ok
		}
	}
}

// readArray calls elem for each element of the array whose '[' is at i-1,
// with the element's position in the array and the position of its first
// byte; elem returns the position after the element.
func readArray(s string, i int, elem func(pos, v int) (int, bool)) (int, bool) {
	if i = ws(s, i); i < len(s) && s[i] == ']' {
		return i + 1, true
	}
	for pos := 0; ; pos++ {
		var ok, next bool
		if i, ok = elem(pos, i); !ok {
			return i, false
		}
		if i, next, ok = more(s, i, ']'); !ok || !next {
			return i, ok
		}
	}
}

// raw skips the value at v and returns it as raw JSON.
func (st *Stream) raw(s string, v int, dst *string) (int, bool) {
	end, ok := st.scan.skip(s, v)
	if ok {
		*dst = s[v:end]
	}
	return end, ok
}

// at reports whether s[i] is c.
func at(s string, i int, c byte) bool { return i < len(s) && s[i] == c }

func (st *Stream) readRoot(s string, i int, c *chunk) (int, bool) {
	return readObject(s, i, func(key string, v int) (int, bool) {
		switch key {
		case "choices":
			return st.readChoices(s, v, c)
		case "usage":
			return st.raw(s, v, &c.usageRaw)
		case "error":
			return st.raw(s, v, &c.errRaw)
		case "object":
			return st.raw(s, v, &c.object)
		}
		return st.scan.skip(s, v)
	})
}

// readChoices reads "choices": the first element whose index is absent or 0
// is read, the others only validated.
func (st *Stream) readChoices(s string, v int, c *chunk) (int, bool) {
	c.choice, c.choices, st.frags, st.parts = choiceFields{}, at(s, v, '['), st.frags[:0], st.parts[:0]
	if !c.choices {
		return st.scan.skip(s, v)
	}
	return readArray(s, v+1, func(_, i int) (int, bool) {
		if c.choice.found {
			return st.scan.skip(s, i)
		}
		if !at(s, i, '{') {
			c.choice.found = true // a non-object element still ends the search
			return st.scan.skip(s, i)
		}
		var f choiceFields
		end, ok := st.readChoice(s, i+1, &f)
		if !ok {
			return end, false
		}
		if f.index == "" || intIsZero(f.index) {
			f.found, f.obj, f.raw = true, true, s[i:end]
			c.choice = f
		} else {
			st.frags, st.parts = st.frags[:0], st.parts[:0]
		}
		return end, true
	})
}

func (st *Stream) readChoice(s string, i int, f *choiceFields) (int, bool) {
	return readObject(s, i, func(key string, v int) (int, bool) {
		switch key {
		case "index":
			if f.index == "" {
				return st.raw(s, v, &f.index)
			}
		case "delta":
			f.content, f.refusal, f.reasoning, f.reasoningAlt, f.toolCalls, f.contentParts = "", "", "", "", false, false
			st.frags, st.parts = st.frags[:0], st.parts[:0]
			if f.delta = at(s, v, '{'); f.delta {
				return st.readDelta(s, v+1, f)
			}
		case "finish_reason":
			return st.raw(s, v, &f.finish)
		case "usage":
			return st.raw(s, v, &f.usage)
		}
		return st.scan.skip(s, v)
	})
}

func (st *Stream) readDelta(s string, i int, f *choiceFields) (int, bool) {
	return readObject(s, i, func(key string, v int) (int, bool) {
		switch key {
		case "content":
			f.content, st.parts = "", st.parts[:0]
			if f.contentParts = at(s, v, '['); f.contentParts {
				return readArray(s, v+1, func(_, i int) (int, bool) {
					if at(s, i, '{') {
						return st.readContentPart(s, i+1)
					}
					return st.scan.skip(s, i)
				})
			}
			return st.raw(s, v, &f.content)
		case "refusal":
			return st.raw(s, v, &f.refusal)
		case "reasoning_content":
			return st.raw(s, v, &f.reasoning)
		case "reasoning":
			return st.raw(s, v, &f.reasoningAlt)
		case "tool_calls":
			st.frags = st.frags[:0]
			if f.toolCalls = at(s, v, '['); f.toolCalls {
				return readArray(s, v+1, func(pos, i int) (int, bool) {
					if at(s, i, '{') {
						return st.readToolCall(s, i+1, pos)
					}
					return st.scan.skip(s, i)
				})
			}
		}
		return st.scan.skip(s, v)
	})
}

// readContentPart reads one object element of an array content: a text
// part becomes one st.parts entry, a thinking part one entry per text of its
// "thinking". Members may come in any order, so the part's type decides at
// its end which of the entries read stay.
func (st *Stream) readContentPart(s string, i int) (int, bool) {
	var typ, text string
	first := len(st.parts) // thinking entries of this part start here
	end, ok := readObject(s, i, func(key string, v int) (int, bool) {
		switch key {
		case "type":
			return st.raw(s, v, &typ)
		case "text":
			return st.raw(s, v, &text)
		case "thinking":
			st.parts = st.parts[:first] // the last "thinking" counts
			if !at(s, v, '[') {
				var raw string
				end, ok := st.raw(s, v, &raw)
				if ok && isStr(raw) {
					st.parts = append(st.parts, contentPart{thinking: true, raw: raw})
				}
				return end, ok
			}
			return readArray(s, v+1, func(_, i int) (int, bool) {
				if !at(s, i, '{') {
					return st.scan.skip(s, i)
				}
				var subType, subText string
				end, ok := readObject(s, i+1, func(key string, v int) (int, bool) {
					switch key {
					case "type":
						return st.raw(s, v, &subType)
					case "text":
						return st.raw(s, v, &subText)
					}
					return st.scan.skip(s, v)
				})
				if ok && isStr(subText) && (subType == "" || isStr(subType) && strValue(subType) == "text") {
					st.parts = append(st.parts, contentPart{thinking: true, raw: subText})
				}
				return end, ok
			})
		}
		return st.scan.skip(s, v)
	})
	if !ok {
		return end, false
	}
	switch {
	case isStr(typ) && strValue(typ) == "thinking":
	case (typ == "" || isStr(typ) && strValue(typ) == "text") && isStr(text):
		st.parts = append(st.parts[:first], contentPart{raw: text})
	default:
		st.parts = st.parts[:first]
	}
	return end, true
}

// readToolCall reads one tool_calls element into a new st.frags entry.
func (st *Stream) readToolCall(s string, i, pos int) (int, bool) {
	t := toolFrag{pos: pos}
	end, ok := readObject(s, i, func(key string, v int) (int, bool) {
		switch key {
		case "index":
			return st.raw(s, v, &t.index)
		case "id":
			return st.raw(s, v, &t.id)
		case "function":
			t.name, t.args = "", ""
			if at(s, v, '{') {
				return readObject(s, v+1, func(key string, v int) (int, bool) {
					switch key {
					case "name":
						return st.raw(s, v, &t.name)
					case "arguments":
						return st.raw(s, v, &t.args)
					}
					return st.scan.skip(s, v)
				})
			}
		case "extra_content":
			t.sig = ""
			if at(s, v, '{') {
				return st.readExtraContent(s, v+1, &t.sig)
			}
		}
		return st.scan.skip(s, v)
	})
	if ok {
		st.frags = append(st.frags, t)
	}
	return end, ok
}

// isStr reports that raw is a JSON string; nonEmptyStr that it is one with
// at least one byte of contents.
func isStr(raw string) bool       { return raw != "" && raw[0] == '"' }
func nonEmptyStr(raw string) bool { return len(raw) > 2 && raw[0] == '"' }

// allDigits reports that raw is a non-empty run of ASCII digits.
func allDigits(raw string) bool {
	for i := 0; i < len(raw); i++ {
		if !isDigit(raw[i]) {
			return false
		}
	}
	return raw != ""
}

// intIsZero reports whether the raw JSON value reads as the integer 0 (gjson
// Int semantics: numbers truncate, strings are parsed, true is 1). Plain
// integers are decided here; anything else asks gjson.
func intIsZero(raw string) bool {
	if raw == "0" {
		return true
	}
	if allDigits(raw) { // valid JSON has no leading zeros: this is >= 1
		return false
	}
	return gjson.Parse(raw).Int() == 0
}

// toolIndex returns the call index of a tool_calls element as the gjson
// reader did: int64 of the number's float64 value, 0 for any other type, and
// the element's position when the field is absent.
func toolIndex(raw string, pos int) int64 {
	switch {
	case raw == "":
		return int64(pos)
	case len(raw) <= 15 && allDigits(raw):
		n := int64(0)
		for i := 0; i < len(raw); i++ {
			n = n*10 + int64(raw[i]-'0')
		}
		return n
	case raw[0] == '-' || isDigit(raw[0]):
		f, _ := strconv.ParseFloat(raw, 64)
		return int64(f)
	}
	return 0
}

// strValue returns the decoded value of a raw JSON string; only strings with
// escapes (rare for finish reasons) are decoded, by gjson.
func strValue(raw string) string {
	for i := 1; i < len(raw)-1; i++ {
		if raw[i] == '\\' {
			return gjson.Parse(raw).Str
		}
	}
	return inner(raw)
}

// readExtraContent reads a tool call's "extra_content" object (Google's
// OpenAI-compatible endpoint): *sig gets google.thought_signature.
func (st *Stream) readExtraContent(s string, i int, sig *string) (int, bool) {
	return readObject(s, i, func(key string, v int) (int, bool) {
		if key == "google" {
			*sig = ""
			if at(s, v, '{') {
				return readObject(s, v+1, func(key string, v int) (int, bool) {
					if key == "thought_signature" {
						return st.raw(s, v, sig)
					}
					return st.scan.skip(s, v)
				})
			}
		}
		return st.scan.skip(s, v)
	})
}
