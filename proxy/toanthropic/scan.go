package toanthropic

import (
	"unsafe"

	"github.com/ccproxy/ccproxy/internal/jsonscan"
)

// A small JSON scanner for upstream chunks. It accepts exactly the documents
// gjson.ValidBytes accepts (RFC 8259 grammar; bytes >= 0x80 are not checked
// for UTF-8, as gjson does not), so replacing gjson changed no decision.
// Every function takes the document and a position and returns the position
// after what it read and whether that was valid; none allocates, and none
// recurses: nested values are skipped iteratively (scanner.skip).

// isSpace reports JSON whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// ws returns the position of the first non-whitespace byte at or after i.
func ws(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// scanString reads the rest of a string whose opening quote is at i-1 and
// returns the position after the closing quote and whether the contents hold
// an escape.
func scanString(s string, i int) (end int, esc, ok bool) {
	for {
		// Jump to the next quote, backslash or control byte (the scanner
		// the request translator uses, on a zero-copy view of s).
		if i < len(s) {
			rest := s[i:]
			i += jsonscan.IndexSpecial(unsafe.Slice(unsafe.StringData(rest), len(rest)))
		}
		if i >= len(s) {
			return i, esc, false
		}
		switch s[i] {
		case '"':
			return i + 1, esc, true
		case '\\':
			esc = true
			if i+1 >= len(s) {
				return i, esc, false
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) || !isHex(s[i+5]) {
					return i, esc, false
				}
				i += 6
			default:
				return i, esc, false
			}
		default: // a control character
			return i, esc, false
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber reads a number starting at i ('-' or a digit).
func scanNumber(s string, i int) (int, bool) {
	if s[i] == '-' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return i, false
		}
	}
	if s[i] == '0' {
		i++
	} else {
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return i, false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return i, false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i, true
}

// scanScalar reads a string, number or literal starting at i; container
// reports that s[i] opens an object or array instead (nothing is read).
func scanScalar(s string, i int) (end int, container, ok bool) {
	if i >= len(s) {
		return i, false, false
	}
	switch c := s[i]; c {
	case '"':
		end, _, ok = scanString(s, i+1)
		return end, false, ok
	case '{', '[':
		return i, true, true
	case 't':
		return i + 4, false, len(s) >= i+4 && s[i:i+4] == "true"
	case 'f':
		return i + 5, false, len(s) >= i+5 && s[i:i+5] == "false"
	case 'n':
		return i + 4, false, len(s) >= i+4 && s[i:i+4] == "null"
	default:
		if c == '-' || isDigit(c) {
			end, ok = scanNumber(s, i)
			return end, false, ok
		}
		return i, false, false
	}
}

// scanner holds the stack of open containers for skip; it is kept in the
// Stream so that deep documents grow it once.
type scanner struct {
	nest []byte // the closing byte of each open container
}

// skip reads (and validates) one value of any kind starting at i, whitespace
// first, and returns the position after it. Nesting is tracked on sc.nest,
// not on the call stack, so depth costs one byte per level.
func (sc *scanner) skip(s string, i int) (int, bool) {
	if i < len(s) && s[i] == '"' { // the common case: a string
		end, _, ok := scanString(s, i+1)
		return end, ok
	}
	base := len(sc.nest) // on failure the stack is left dirty; readChunk resets it
	var ok, container bool
	for {
		// A value is expected at i.
		i = ws(s, i)
		if i, container, ok = scanScalar(s, i); !ok {
			return i, false
		}
		if container {
			open := s[i]
			i = ws(s, i+1)
			if open == '[' {
				if i < len(s) && s[i] == ']' {
					i++
				} else {
					sc.nest = append(sc.nest, ']')
					continue // the first element
				}
			} else {
				if i < len(s) && s[i] == '}' {
					i++
				} else {
					sc.nest = append(sc.nest, '}')
					if i, ok = memberKey(s, i); !ok {
						return i, false
					}
					continue // the first member's value
				}
			}
		}
		// A value ended at i: close containers until another value is due.
		for {
			if len(sc.nest) == base {
				return i, true
			}
			i = ws(s, i)
			if i >= len(s) {
				return i, false
			}
			closer := sc.nest[len(sc.nest)-1]
			if s[i] == closer {
				sc.nest = sc.nest[:len(sc.nest)-1]
				i++
				continue
			}
			if s[i] != ',' {
				return i, false
			}
			i++
			if closer == '}' {
				if i, ok = memberKey(s, ws(s, i)); !ok {
					return i, false
				}
			}
			break
		}
	}
}

// memberKey reads `"key":` at i (no leading whitespace) and returns the
// position after the colon.
func memberKey(s string, i int) (int, bool) {
	if i >= len(s) || s[i] != '"' {
		return i, false
	}
	i, _, ok := scanString(s, i+1)
	if !ok {
		return i, false
	}
	if i = ws(s, i); i >= len(s) || s[i] != ':' {
		return i, false
	}
	return i + 1, true
}

// member reads one object member's `"key":` at i (no leading whitespace) and
// returns the key as the name it matches (see keyName) and the position of
// its value, whitespace skipped.
func member(s string, i int) (key string, v int, ok bool) {
	if i >= len(s) || s[i] != '"' {
		return "", i, false
	}
	end, esc, ok := scanString(s, i+1)
	if !ok {
		return "", end, false
	}
	key = s[i+1 : end-1]
	if esc {
		key = keyName(key)
	}
	if end = ws(s, end); end >= len(s) || s[end] != ':' {
		return "", end, false
	}
	return key, ws(s, end+1), true
}

// more reads what follows a member or element at i: a comma (more is true
// and j is the position of the next member or element, whitespace skipped)
// or the container's closer (j is after it).
func more(s string, i int, closer byte) (j int, more, ok bool) {
	if i = ws(s, i); i >= len(s) {
		return i, false, false
	}
	switch s[i] {
	case ',':
		return ws(s, i+1), true, true
	case closer:
		return i + 1, false, true
	}
	return i, false, false
}

// keyName decodes the escapes of a raw key for matching against the ASCII
// field names the chunk reader knows ("choi\u0063es" is "choices", as for
// gjson). Keys that decode to anything else return "", which no field name is.
// Only called for keys holding an escape, which real upstreams never send.
func keyName(raw string) string {
	var buf [32]byte
	n := 0
	for i := 0; i < len(raw); i++ {
		if n == len(buf) {
			return ""
		}
		c := raw[i]
		if c == '\\' { // validated: an escape is complete
			i++
			switch raw[i] {
			case 'u':
				r := hex4(raw[i-1:])
				if r >= 0x80 {
					return ""
				}
				c = byte(r)
				i += 4
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			default:
				c = raw[i]
			}
		}
		buf[n] = c
		n++
	}
	return string(buf[:n])
}
