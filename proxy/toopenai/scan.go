package toopenai

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strconv"

	"github.com/ccproxy/ccproxy/internal/jsonscan"
)

// maxDepth bounds JSON nesting. Real requests nest a few dozen levels at most
// (tool schemas); the bound keeps the recursive validator's stack small for
// hostile bodies such as a megabyte of '['.
const maxDepth = 512

// minSpan is the smallest container or string value recorded in the index:
// smaller ones are cheaper to rescan than to look up.
const minSpan = 128

// span records that the container opening at body offset open ends just
// before offset end.
type span struct{ open, end int32 }

// index finds container (and long string) ends recorded by the validator. The offsets of a
// subslice of the body are recovered from its capacity, which is why every
// raw value handed around is a plain reslice of the body.
type index struct {
	spans   []span
	capBody int
}

// end returns the index just past the container or string starting at b[i],
// or -1 when it is not recorded.
func (ix *index) end(b []byte, i int) int {
	if ix == nil || len(ix.spans) == 0 {
		return -1
	}
	base := ix.capBody - cap(b)
	abs := int32(base + i)
	lo, hi := 0, len(ix.spans)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ix.spans[m].open < abs {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(ix.spans) && ix.spans[lo].open == abs {
		return int(ix.spans[lo].end) - base
	}
	return -1
}

// validate reports whether b is exactly one JSON value surrounded by
// optional whitespace, with nesting no deeper than maxDepth. It is at least
// as strict as encoding/json.Valid (the fuzz test cross-checks), so every raw
// value copied out of a validated body is valid JSON on its own.
//
// It is iterative (no recursion; stack holds the open containers) and records in spans where
// every container and string value (not key) of at least minSpan bytes
// ends, sorted by where they open, so that later passes skip
// large values in O(log n) instead of rescanning them at every nesting
// level. Bodies of 2 GiB or more are rejected.
func validate(b []byte, spans []span, stack *[maxDepth]int32) ([]span, error) {
	if len(b) >= 1<<31-1 {
		return spans, &RequestError{Field: "body", Message: "too large"}
	}
	depth := 0
	i := skipWS(b, 0)
	ok := true
value:
	for {
		// A value starts at b[i].
		if i >= len(b) {
			ok = false
			break
		}
		c := b[i]
		if c == '{' || c == '[' {
			if depth == maxDepth {
				return spans, &RequestError{Field: "body", Message: "JSON nested deeper than " + strconv.Itoa(maxDepth) + " levels"}
			}
			stack[depth] = int32(len(spans))
			depth++
			spans = append(spans, span{open: int32(i)})
			i = skipWS(b, i+1)
			if i < len(b) && (b[i] == '}' && c == '{' || b[i] == ']' && c == '[') {
				i++
				spans = closeSpan(spans, stack[depth-1], i)
				depth--
			} else if c == '{' {
				if i, ok = validKey(b, i); !ok {
					break
				}
				continue
			} else {
				continue
			}
		} else {
			v := i
			if i, ok = validScalar(b, i); !ok {
				break
			}
			// Long strings (prompt text, tool descriptions) are recorded
			// like containers, so the translator never rescans them. The
			// spans stay sorted by open: nothing opens inside a string.
			if b[v] == '"' && i-v >= minSpan {
				spans = append(spans, span{open: int32(v), end: int32(i)})
			}
		}
		// After a value: close containers or move to the next member.
		for {
			if depth == 0 {
				break value
			}
			i = skipWS(b, i)
			if i >= len(b) {
				ok = false
				break value
			}
			slot := stack[depth-1]
			open := b[spans[slot].open]
			switch b[i] {
			case ',':
				i = skipWS(b, i+1)
				if open == '{' {
					if i, ok = validKey(b, i); !ok {
						break value
					}
				}
				continue value
			case '}', ']':
				if (b[i] == '}') != (open == '{') {
					ok = false
					break value
				}
				i++
				spans = closeSpan(spans, slot, i)
				depth--
			default:
				ok = false
				break value
			}
		}
	}
	if ok {
		if i = skipWS(b, i); i == len(b) {
			return spans, nil
		}
	}
	return spans, &RequestError{Field: "body", Message: "invalid JSON near offset " + strconv.Itoa(i)}
}

// closeSpan records the end of the container in spans[slot], or drops it
// when it is small: its children are smaller still, so it is the last entry.
func closeSpan(spans []span, slot int32, end int) []span {
	if end-int(spans[slot].open) < minSpan {
		return spans[:slot]
	}
	spans[slot].end = int32(end)
	return spans
}

// validKey validates `"key" :` at b[i] and returns the index of the value.
func validKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	i, ok := validString(b, i)
	if !ok {
		return i, false
	}
	i = skipWS(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, false
	}
	return skipColon(b, i), true
}

// skipWS returns the index of the first non-whitespace byte at or after
// b[i], or len(b). The common case (no whitespace: compact JSON) is inlined.
func skipWS(b []byte, i int) int {
	if i < len(b) && b[i] > ' ' {
		return i
	}
	return skipWSRun(b, i)
}

// skipWSRun is skipWS for whitespace runs. Indentation (runs of spaces in
// pretty-printed bodies) is skipped sixteen bytes at a time without a
// data-dependent branch: indentation depths vary too much to predict. It
// is kept out of line so that skipWS inlines.
//
//go:noinline
func skipWSRun(b []byte, i int) int {
	const spaces = 0x2020202020202020
	for i < len(b) {
		switch b[i] {
		case ' ':
			if len(b)-i < 16 {
				i++
				break
			}
			// t/8 is the number of leading spaces in the first word (8 when
			// all are), u/8 in the second; the second counts only when the
			// first word is all spaces (t>>6 == 1). b[i] is a space, so
			// i advances.
			t := bits.TrailingZeros64(binary.LittleEndian.Uint64(b[i:]) ^ spaces)
			u := bits.TrailingZeros64(binary.LittleEndian.Uint64(b[i+8:]) ^ spaces)
			i += t>>3 + (u>>3)&-(t>>6)
		case '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipColon returns the index of the value after the ':' at b[i]. The one
// space of indented JSON (`"key": value`) is stepped over inline.
func skipColon(b []byte, i int) int {
	i++
	if i < len(b) && b[i] == ' ' {
		i++
	}
	return skipWS(b, i)
}

// validScalar validates the string, number or literal at b[i].
func validScalar(b []byte, i int) (int, bool) {
	switch c := b[i]; c {
	case '"':
		return validString(b, i)
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

// validString validates the string starting at b[i] == '"'. On failure the
// returned index is where the string went wrong: the control character, the
// bad escape, or len(b) when the string is unterminated.
//
// Most of a request is long runs of plain string bytes between escapes
// (\n, \"); jsonscan.IndexSpecial jumps over each run at once.
func validString(b []byte, i int) (int, bool) {
	i++
	for {
		i += jsonscan.IndexSpecial(b[i:])
		if i >= len(b) {
			return i, false
		}
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
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
		default: // a control character
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
	b  []byte
	i  int
	ix *index
}

// members returns an iterator over raw, which must be an object (or array).
// Without an index large values are rescanned; see indexed.
func members(raw []byte) iter { return iter{b: raw, i: 1} }

// indexed returns an iterator over raw that skips large values via ix.
func indexed(raw []byte, ix *index) iter { return iter{b: raw, i: 1, ix: ix} }

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
		i = skipColon(b, i)
	}
	var e int
	switch b[i] {
	case '{', '[':
		if e = it.ix.end(b, i); e < 0 {
			e = skipValue(b, i)
		}
	case '"':
		e = it.skipString(i)
	default:
		e = skipValue(b, i)
	}
	it.i = e
	return key, b[i:e], true
}

// skipString returns the index just past the string value at it.b[i]. A
// string that ends within its first minSpan bytes is found directly; a
// longer one is looked up in the index (validate records every string of
// minSpan bytes or more), so long text is not scanned a second time.
func (it *iter) skipString(i int) int {
	b := it.b
	w := b[i+1 : min(len(b), i+minSpan)]
	if j := bytes.IndexByte(w, '"'); j >= 0 {
		if j == 0 || w[j-1] != '\\' {
			return i + 1 + j + 1
		}
	} else if e := it.ix.end(b, i); e >= 0 {
		return e
	}
	// An escaped quote in the window, or no index: scan.
	return skipString(b, i)
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
	// Clone so that raw (a view of the body) does not escape through the
	// decoder's interface: that would move every iterator to the heap.
	if err := json.Unmarshal(bytes.Clone(raw), &s); err != nil {
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
