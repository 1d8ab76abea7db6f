package toopenai

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// maxDepth bounds JSON nesting. Real requests nest a few dozen levels at most
// (tool schemas); the bound keeps the recursive validator's stack small for
// hostile bodies such as a megabyte of '['.
const maxDepth = 512

// Byte classes used by the scanners.
const (
	clsPlain   = iota // nothing to do inside a string
	clsQuote          // '"'
	clsEscape         // '\\'
	clsControl        // < 0x20, invalid inside a string
)

// strClass classifies bytes met inside a JSON string. It is a read-only table.
var strClass = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = clsControl
	}
	t['"'] = clsQuote
	t['\\'] = clsEscape
	return t
}()

// validator checks that a body is exactly one well-formed JSON value. It is
// at least as strict as encoding/json.Valid (the fuzz test cross-checks), so
// every raw value copied out of a validated body is valid JSON on its own.
type validator struct {
	b        []byte
	tooDeep  bool
	errAt    int
	maxDepth int
}

// validate reports whether b is one JSON value surrounded by optional
// whitespace, with nesting no deeper than maxDepth.
func validate(b []byte) error {
	v := validator{b: b, maxDepth: maxDepth}
	i := skipWS(b, 0)
	i, ok := v.value(i, 0)
	if ok {
		i = skipWS(b, i)
		if i == len(b) {
			return nil
		}
	}
	if v.tooDeep {
		return &RequestError{Field: "body", Message: "JSON nested deeper than " + strconv.Itoa(maxDepth) + " levels"}
	}
	return &RequestError{Field: "body", Message: "invalid JSON near offset " + strconv.Itoa(i)}
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func (v *validator) value(i, depth int) (int, bool) {
	b := v.b
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; c {
	case '"':
		return v.str(i)
	case '{':
		if depth >= v.maxDepth {
			v.tooDeep = true
			return i, false
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			var ok bool
			if i, ok = v.str(i); !ok {
				return i, false
			}
			i = skipWS(b, i)
			if i >= len(b) || b[i] != ':' {
				return i, false
			}
			if i, ok = v.value(skipWS(b, i+1), depth+1); !ok {
				return i, false
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				i = skipWS(b, i+1)
			case '}':
				return i + 1, true
			default:
				return i, false
			}
		}
	case '[':
		if depth >= v.maxDepth {
			v.tooDeep = true
			return i, false
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = v.value(i, depth+1); !ok {
				return i, false
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				i = skipWS(b, i+1)
			case ']':
				return i + 1, true
			default:
				return i, false
			}
		}
	case 't':
		return lit(b, i, "true")
	case 'f':
		return lit(b, i, "false")
	case 'n':
		return lit(b, i, "null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return number(b, i)
		}
		return i, false
	}
}

func lit(b []byte, i int, s string) (int, bool) {
	if len(b)-i >= len(s) && string(b[i:i+len(s)]) == s {
		return i + len(s), true
	}
	return i, false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func number(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return i, false
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, true
}

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// str validates the string starting at b[i] == '"'.
func (v *validator) str(i int) (int, bool) {
	b := v.b
	i++
	for {
		for i < len(b) && strClass[b[i]] == clsPlain {
			i++
		}
		if i >= len(b) {
			return i, false
		}
		switch strClass[b[i]] {
		case clsQuote:
			return i + 1, true
		case clsEscape:
			i++
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if len(b)-i < 5 || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return i, false
				}
				i += 5
			default:
				return i, false
			}
		default:
			return i, false
		}
	}
}

// The functions below assume already validated JSON.

// skipString returns the index just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	i++
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return len(b)
		}
		k := i + j
		n := 0
		for p := k - 1; p >= i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return k + 1
		}
		i = k + 1
	}
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		d := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				d++
			case '}', ']':
				d--
				if d == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default:
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// iter walks the members of a validated JSON object or the elements of a
// validated JSON array, handing out raw value bytes without decoding them.
type iter struct {
	b []byte
	i int
}

// members returns an iterator over raw, which must be an object (or array).
func members(raw []byte) iter { return iter{b: raw, i: 1} }

// next returns the next member. For arrays key is nil. Keys are returned
// unquoted; a key containing escapes is decoded (a rare allocation).
func (it *iter) next() (key, val []byte, ok bool) {
	b := it.b
	i := it.i
	for i < len(b) {
		c := b[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' {
			i++
			continue
		}
		break
	}
	if i >= len(b) || b[i] == '}' || b[i] == ']' {
		it.i = len(b)
		return nil, nil, false
	}
	if b[0] == '{' {
		e := skipString(b, i)
		key = b[i+1 : e-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			key = []byte(unquote(b[i:e]))
		}
		i = skipWS(b, e)
		i = skipWS(b, i+1) // ':'
	}
	e := skipValue(b, i)
	it.i = e
	return key, b[i:e], true
}

// isString reports whether raw is a JSON string.
func isString(raw []byte) bool { return len(raw) >= 2 && raw[0] == '"' }

// isObject reports whether raw is a JSON object.
func isObject(raw []byte) bool { return len(raw) >= 2 && raw[0] == '{' }

// isArray reports whether raw is a JSON array.
func isArray(raw []byte) bool { return len(raw) >= 2 && raw[0] == '[' }

// isNumber reports whether raw is a JSON number.
func isNumber(raw []byte) bool {
	return len(raw) > 0 && (raw[0] == '-' || isDigit(raw[0]))
}

// inner returns the bytes between the quotes of a raw JSON string, still escaped.
func inner(raw []byte) []byte { return raw[1 : len(raw)-1] }

// unquote decodes a raw JSON string; it returns "" for non-strings.
func unquote(raw []byte) string {
	if !isString(raw) {
		return ""
	}
	in := inner(raw)
	if bytes.IndexByte(in, '\\') < 0 {
		return string(in)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return string(in)
	}
	return s
}

// strEq reports whether raw is a JSON string equal to s, without allocating
// in the common unescaped case.
func strEq(raw []byte, s string) bool {
	if !isString(raw) {
		return false
	}
	in := inner(raw)
	if bytes.IndexByte(in, '\\') < 0 {
		return string(in) == s
	}
	return unquote(raw) == s
}
