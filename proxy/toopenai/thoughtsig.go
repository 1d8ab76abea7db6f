package toopenai

import (
	"bytes"
	"encoding/base64"
	"unicode/utf8"
)

// sigMarker separates the upstream tool call id from the encoded Gemini
// thought signature in a tool_use id ccproxy produced; it is
// toanthropic.SignatureMarker (a test pins the two together).
const sigMarker = "__ccpts1__"

// splitToolID splits raw, a tool_use id or tool_use_id as the client sent it
// (a raw JSON string), at the first sigMarker. ok reports that raw carries
// a signature: id is then the upstream id's raw JSON string without its
// closing quote, and payload the base64url (unpadded) signature. An id
// without the marker, or whose payload is not valid base64url, is not
// split (ok false).
func splitToolID(raw []byte) (id, payload []byte, ok bool) {
	if !isString(raw) {
		return nil, nil, false
	}
	i := bytes.Index(raw, []byte(sigMarker))
	if i <= 1 { // no marker, or no upstream id before it
		return nil, nil, false
	}
	payload = raw[i+len(sigMarker) : len(raw)-1]
	if bytes.Contains(payload, []byte(sigMarker)) || !validPayload(payload) {
		return nil, nil, false
	}
	return raw[:i], payload, true
}

// validPayload reports that p is non-empty unpadded base64url, which
// base64.RawURLEncoding decodes without error, of UTF-8 text (a signature
// is a JSON string: any other bytes would go out as invalid JSON text).
func validPayload(p []byte) bool {
	if len(p) == 0 || len(p)%4 == 1 {
		return false
	}
	for _, c := range p {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	// Decoded in the runs appendExtraContent uses; a character cut at the
	// end of a run is completed by the next one.
	var buf [utf8.UTFMax - 1 + 192]byte
	carry := 0
	for len(p) > 0 {
		n := min(len(p), 256)
		m, err := base64.RawURLEncoding.Decode(buf[carry:], p[:n])
		if err != nil {
			return false
		}
		b := buf[:carry+m]
		k := len(b)
		if n < len(p) {
			for j := 1; j < utf8.UTFMax && j <= len(b); j++ {
				if utf8.RuneStart(b[len(b)-j]) {
					if !utf8.FullRune(b[len(b)-j:]) {
						k = len(b) - j
					}
					break
				}
			}
		}
		if !utf8.Valid(b[:k]) {
			return false
		}
		carry = copy(buf[:], b[k:])
		p = p[n:]
	}
	return true
}

// appendToolCallID appends a tool call id (or tool_call_id) for raw, the
// tool_use id the client sent: the upstream id when raw carries a
// signature, else raw itself (def when it is not a string). It reports the
// signature payload, or nil.
func appendToolCallID(dst, raw []byte, def string) ([]byte, []byte) {
	id, payload, ok := splitToolID(raw)
	if !ok {
		return appendStringOr(dst, raw, def), nil
	}
	dst = append(dst, id...)
	return append(dst, '"'), payload
}

// appendExtraContent appends Google's ,"extra_content":{"google":
// {"thought_signature":"..."}} member for a signature payload (validated by
// splitToolID): the signature's exact bytes, decoded, as a JSON string. It
// decodes in small runs into a stack buffer, so it allocates nothing.
func appendExtraContent(dst, payload []byte) []byte {
	dst = append(dst, `,"extra_content":{"google":{"thought_signature":"`...)
	var buf [192]byte // 256 base64 characters decode to 192 bytes
	for len(payload) > 0 {
		n := min(len(payload), 256)
		m, _ := base64.RawURLEncoding.Decode(buf[:], payload[:n])
		dst = appendEscapedBytes(dst, buf[:m])
		payload = payload[n:]
	}
	return append(dst, `"}}`...)
}

// appendEscapedBytes appends b as the inside of a JSON string: quotes,
// backslashes and control bytes escaped, everything else as is (a run
// boundary may split a UTF-8 sequence, so bytes >= 0x80 are copied here:
// splitToolID checked that the whole signature is UTF-8).
func appendEscapedBytes(dst, b []byte) []byte {
	const hex = "0123456789abcdef"
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
