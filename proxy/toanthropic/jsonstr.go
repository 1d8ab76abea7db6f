package toanthropic

import (
	"encoding/hex"
	"unicode/utf8"
	"unsafe"
)

// view returns b as a string without copying. The string must not be used
// after b is modified or outlive the call that received b; gjson results
// taken from it point into b.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// inner strips the quotes of a raw JSON string.
func inner(raw string) string {
	if len(raw) >= 2 {
		return raw[1 : len(raw)-1]
	}
	return ""
}

// sigHash is a 64-bit FNV-1a hash over the decoded bytes of JSON string
// contents, fed incrementally.
type sigHash uint64

const (
	fnvOffset sigHash = 14695981039346656037
	fnvPrime  sigHash = 1099511628211
)

func (h *sigHash) writeByte(c byte) { *h = (*h ^ sigHash(c)) * fnvPrime }

func (h *sigHash) writeString(s string) {
	for i := 0; i < len(s); i++ {
		h.writeByte(s[i])
	}
}

// writeRaw feeds the decoded form of raw JSON string contents (without the
// quotes), decoding escapes as encoding/json does (unpaired surrogates become
// U+FFFD). Escapes never span two fragments: each is a complete JSON string.
func (h *sigHash) writeRaw(s string) {
	var buf [4]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			h.writeByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			h.writeByte('\n')
		case 'r':
			h.writeByte('\r')
		case 't':
			h.writeByte('\t')
		case 'b':
			h.writeByte('\b')
		case 'f':
			h.writeByte('\f')
		case 'u':
			r, n := decodeU(s[i-1:])
			i += n - 2
			for _, b := range buf[:utf8.EncodeRune(buf[:], r)] {
				h.writeByte(b)
			}
		default: // '"', '\\', '/'
			h.writeByte(s[i])
		}
	}
}

// decodeU decodes a \uXXXX escape (or a surrogate pair of two) at the start
// of s and returns the rune and the number of bytes consumed.
func decodeU(s string) (rune, int) {
	r1 := hex4(s)
	if r1 < 0 {
		return utf8.RuneError, 2
	}
	if r1 >= 0xd800 && r1 < 0xdc00 {
		if len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
			if r2 := hex4(s[6:]); r2 >= 0xdc00 && r2 < 0xe000 {
				return (r1-0xd800)<<10 + (r2 - 0xdc00) + 0x10000, 12
			}
		}
		return utf8.RuneError, 6
	}
	if r1 >= 0xdc00 && r1 < 0xe000 {
		return utf8.RuneError, 6
	}
	return r1, 6
}

// hex4 parses the 4 hex digits of a "\uXXXX" escape at the start of s.
func hex4(s string) rune {
	if len(s) < 6 {
		return -1
	}
	var r rune
	for _, c := range []byte(s[2:6]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// ThinkingSignature returns the synthetic signature Stream and Message attach
// to a thinking block whose text is thinking: "ccp1" followed by the 16 hex
// digits of the FNV-1a 64 hash of the text. It is stable across turns, so the
// request side can tell a block ccproxy produced by recomputing it.
func ThinkingSignature(thinking string) string {
	h := fnvOffset
	h.writeString(thinking)
	return string(h.appendSignature(nil))
}

func (h sigHash) appendSignature(dst []byte) []byte {
	var b [8]byte
	for i := range b {
		b[i] = byte(h >> (56 - 8*i))
	}
	dst = append(dst, "ccp1"...)
	return hex.AppendEncode(dst, b[:])
}
