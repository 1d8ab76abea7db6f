package proxy

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ccproxy/ccproxy/engine"
)

// secretMask replaces the upstream key wherever upstream text carries it
// (the mask redact uses too): nothing of the key is shown, not even
// OpenAI's "sk-ab***yz", since the text may reach any client.
const secretMask = "[REDACTED]"

// minSecretLen: a shorter upstream key is not scrubbed. A key that short
// is guessable anyway, and replacing every "local" or "x" in an error
// message would mangle it; redact's patterns still apply to log lines.
const minSecretLen = 8

// maxScrubDepth bounds how many layers of JSON escaping (a JSON document
// quoted inside a JSON string, inside ...) scrub reads through.
const maxScrubDepth = 3

// secret removes the configured upstream keys from text the upstream sent,
// before it reaches a client or a log line: gateways and self-hosted
// servers echo the key, or the whole Authorization header, in their error
// messages. It is only used on error paths; successful answers are not
// scanned. The zero value scrubs nothing.
type secret struct {
	keys [][]byte // none: nothing to scrub (no key, or only short ones)
}

// newSecret returns the scrubber of keys (see minSecretLen).
func newSecret(keys ...string) secret {
	var s secret
	for _, k := range keys {
		if len(k) >= minSecretLen {
			s.keys = append(s.keys, []byte(k))
		}
	}
	return s
}

// on reports whether s scrubs anything.
func (s *secret) on() bool { return len(s.keys) > 0 }

// containsKey reports whether b holds one of the keys as is.
func (s *secret) containsKey(b []byte) bool {
	for _, k := range s.keys {
		if bytes.Contains(b, k) {
			return true
		}
	}
	return false
}

// scrub returns b with every occurrence of a key replaced by secretMask:
// as is, and however JSON escapes it ("\/", "\u002b", ... and JSON quoted
// inside JSON, up to maxScrubDepth layers). Escapes are read wherever they
// stand, not only inside well-formed string literals: the text may be cut
// at a read limit, or be prose with JSON in it. Only the bytes that say
// the key change (other escapes stay as they came), so valid JSON stays
// valid. It returns b itself when nothing had to change, and a new slice
// otherwise (b is not modified). Its cost is linear in len(b).
func (s *secret) scrub(b []byte) []byte {
	if len(s.keys) == 0 {
		return b
	}
	if bytes.IndexByte(b, '\\') < 0 && !s.containsKey(b) {
		return b
	}
	spans := s.find(nil, b, nil)
	var (
		d  []byte
		at []int32
	)
	escaped := bytes.IndexByte(b, '\\') >= 0
	for depth := 1; escaped && depth <= maxScrubDepth; depth++ {
		// d is what the previous layer says once its escapes are read;
		// at maps each of its bytes (and its end) to where it came from in b.
		src, srcAt := b, at
		if depth > 1 {
			src = d
		}
		d, at = unescape(src, srcAt)
		spans = s.find(spans, d, at)
		if bytes.IndexByte(d, '\\') < 0 {
			break
		}
	}
	if len(spans) == 0 {
		return b
	}
	slices.SortFunc(spans, func(x, y [2]int) int { return x[0] - y[0] })
	out := make([]byte, 0, len(b))
	last := 0
	for i := 0; i < len(spans); {
		start, end := spans[i][0], spans[i][1]
		for i++; i < len(spans) && spans[i][0] < end; i++ {
			end = max(end, spans[i][1])
		}
		out = append(out, b[last:start]...)
		out = append(out, secretMask...)
		last = end
	}
	return append(out, b[last:]...)
}

// scrubString is scrub for a string.
func (s *secret) scrubString(str string) string {
	if len(s.keys) == 0 || (strings.IndexByte(str, '\\') < 0 && !s.containsKeyString(str)) {
		return str
	}
	b := []byte(str)
	if out := s.scrub(b); len(out) != len(b) || &out[0] != &b[0] {
		return string(out)
	}
	return str
}

// containsKeyString is containsKey for a string.
func (s *secret) containsKeyString(str string) bool {
	for _, k := range s.keys {
		if strings.Contains(str, string(k)) {
			return true
		}
	}
	return false
}

// find appends to spans the [start, end) in the original text of each
// occurrence of a key in d, at mapping d's offsets there (nil: d is the
// original). A key whose first byte completes an escape (a lone backslash
// before it) takes the escape's start with it, so the mask never leaves a
// dangling backslash.
func (s *secret) find(spans [][2]int, d []byte, at []int32) [][2]int {
	orig := func(i int) int {
		if at == nil {
			return i
		}
		return int(at[i])
	}
	for _, key := range s.keys {
		for off := 0; ; {
			i := bytes.Index(d[off:], key)
			if i < 0 {
				break
			}
			start, end := off+i, off+i+len(key)
			start = escapeStart(d, start)
			spans = append(spans, [2]int{orig(start), orig(end)})
			off = end
		}
	}
	return spans
}

// escapeStart returns where the escape that covers d[i] begins ("\n",
// "\u0041", ...), or i when d[i] is not inside one.
func escapeStart(d []byte, i int) int {
	for p := i - 1; p >= 0 && p >= i-5; p-- {
		if d[p] != '\\' {
			continue
		}
		n := 0 // backslashes in the run that ends at p
		for q := p; q >= 0 && d[q] == '\\'; q-- {
			n++
		}
		if n%2 == 0 {
			return i // an escaped backslash: no escape starts at p
		}
		if size := escapeLen(d[p:]); p+size > i {
			return p
		}
		return i
	}
	return i
}

// escapeLen returns the length of the escape at the start of e (e[0] is a
// backslash): 6 for \uXXXX, 2 for \n and the others JSON knows, 1 when
// what follows makes no JSON escape (the backslash is then read as is).
func escapeLen(e []byte) int {
	if len(e) < 2 {
		return 1
	}
	switch e[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(e) >= 6 && isHex4(e[2:6]) {
			return 6
		}
	}
	return 1
}

func isHex4(h []byte) bool {
	for _, c := range h[:4] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// unescape reads src's JSON escapes, wherever they stand: d is the text
// they say, and at[i] is where d[i] came from in the original text (srcAt
// maps src there; nil: src is the original); at has a last entry for d's
// end. A backslash that starts no JSON escape is read as itself; a
// surrogate pair makes one character, a lone surrogate U+FFFD.
func unescape(src []byte, srcAt []int32) (d []byte, at []int32) {
	d = make([]byte, 0, len(src))
	at = make([]int32, 0, len(src)+1)
	orig := func(i int) int32 {
		if srcAt == nil {
			return int32(i)
		}
		return srcAt[i]
	}
	for i := 0; i < len(src); {
		c := src[i]
		size := 1
		if c == '\\' {
			size = escapeLen(src[i:])
		}
		n := len(d)
		switch {
		case size == 1:
			d = append(d, c)
		case src[i+1] != 'u':
			d = append(d, unescapeByte(src[i+1]))
		default:
			r := rune(hex4(src[i+2 : i+6]))
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if escapeLen(src[i+6:]) == 6 && src[i+7] == 'u' {
					r2 = rune(hex4(src[i+8 : i+12]))
				}
				if p := utf16.DecodeRune(r, r2); p != utf8.RuneError {
					r, size = p, 12
				} else {
					r = utf8.RuneError
				}
			}
			d = utf8.AppendRune(d, r)
		}
		for range len(d) - n {
			at = append(at, orig(i))
		}
		i += size
	}
	return d, append(at, orig(len(src)))
}

// unescapeByte is the byte a two-byte JSON escape \c stands for.
func unescapeByte(c byte) byte {
	switch c {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return c // '"', '\\', '/'
}

// hex4 is the value of four hex digits (checked by isHex4).
func hex4(h []byte) uint16 {
	var v uint16
	for _, c := range h[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		v = v<<4 | uint16(c)
	}
	return v
}

// trimPartial cuts b where it ends with a key's first 4 or more bytes:
// a body read only up to a limit may stop in the middle of a key.
func (s *secret) trimPartial(b []byte) []byte {
	cut := 0
	for _, key := range s.keys {
		for n := len(key) - 1; n >= 4 && n > cut; n-- {
			if bytes.HasSuffix(b, key[:n]) {
				cut = n
				break
			}
		}
	}
	return b[:len(b)-cut]
}

// logText is upstream text made fit for a log line: the key scrubbed, and
// anything that looks like another credential redacted.
func (h *Handler) logText(s string) string {
	return redact(h.secret.scrubString(s))
}

// upstreamError is the package's upstreamError with the key scrubbed from
// everything of the upstream's answer that may reach the client: the
// message, the raw body relayed on the passthrough routes (decoded first
// when it is compressed), its Content-Type and Retry-After. truncated says
// the body was cut at the read limit.
func (h *Handler) upstreamError(status int, header http.Header, body []byte, truncated bool) *apiError {
	if !h.secret.on() {
		return upstreamError(status, header, body)
	}
	if coding := header.Get("Content-Encoding"); coding != "" && !strings.EqualFold(coding, "identity") {
		// The client's Accept-Encoding went upstream (passthrough). The key
		// cannot be looked for in compressed bytes: decode, and relay the
		// original bytes only when they were whole and held no key.
		dec, full := decodeErrorBody(coding, body)
		clean := h.secret.scrub(dec)
		if truncated || !full {
			clean = h.secret.trimPartial(clean)
		}
		if !full || truncated || !bytes.Equal(clean, dec) {
			header = header.Clone()
			header.Del("Content-Encoding")
			body = clean
		}
	} else {
		body = h.secret.scrub(body)
		if truncated {
			body = h.secret.trimPartial(body)
		}
	}
	e := upstreamError(status, header, body)
	e.Message = h.secret.scrubString(e.Message)
	e.RawType = h.secret.scrubString(e.RawType)
	e.RetryAfter = h.secret.scrubString(e.RetryAfter)
	return e
}

// decodeErrorBody removes coding from an error body, up to maxErrorBody
// decoded bytes. full is false when it could not decode all of it (an
// unknown coding, a corrupt or cut body, or more than the limit): what
// was decoded is returned, and nothing of an unknown coding.
func decodeErrorBody(coding string, body []byte) (dec []byte, full bool) {
	rc, _, ok := engine.NewDecoder(coding, io.NopCloser(bytes.NewReader(body)))
	if !ok {
		return []byte(`{"error":{"message":"the upstream's error body, in a content coding ccproxy cannot decode, was withheld: it could hold ccproxy's upstream key","type":"api_error"}}`), false
	}
	defer rc.Close()
	dec, err := io.ReadAll(io.LimitReader(rc, maxErrorBody+1))
	if len(dec) > maxErrorBody {
		return dec[:maxErrorBody], false
	}
	return dec, err == nil
}
