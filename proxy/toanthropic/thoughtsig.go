package toanthropic

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// SignatureMarker separates the upstream tool call id from the encoded
// Gemini thought signature in a tool_use id (see the package
// documentation). It only uses characters of Anthropic's id pattern
// ^[a-zA-Z0-9_-]+$, and no upstream is known to put it in an id.
// toopenai splits ids on the same marker.
const SignatureMarker = "__ccpts1__"

// maxSignature bounds the decoded signature carried in an id: Gemini's are a
// few hundred bytes to a few KB; a larger one is dropped, not carried.
const maxSignature = 64 << 10

// bytesView returns s as a []byte without copying; it must not be modified.
func bytesView(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// appendSigPayload appends the tool_use id suffix for a signature whose
// decoded value is sig: SignatureMarker and base64url (unpadded) of sig's
// bytes.
func appendSigPayload(dst []byte, sig string) []byte {
	dst = append(dst, SignatureMarker...)
	return base64.RawURLEncoding.AppendEncode(dst, bytesView(sig))
}

// appendUnescaped appends the decoded bytes of raw JSON string contents
// (without the quotes), as encoding/json decodes them (unpaired surrogates
// become U+FFFD).
func appendUnescaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'u':
			r, n := decodeU(s[i-1:])
			i += n - 2
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, s[i])
		}
	}
	return dst
}

// setSignature records the thought signature of a call, raw being the
// fragment's extra_content.google.thought_signature (a non-empty raw JSON
// string). The first signature of a call counts. Once the call's block has
// started, its id has left and the signature cannot ride in it any more: it
// is dropped and counted (see Stream.DroppedSignatures).
func (s *Stream) setSignature(t *toolCall, raw string) {
	if t.sigSet {
		return
	}
	if t.state != toolWaiting || len(raw) > 6*maxSignature {
		s.droppedSigs++
		return
	}
	in := inner(raw)
	if strings.IndexByte(in, '\\') >= 0 {
		s.sigBuf = appendUnescaped(s.sigBuf[:0], in)
		in = view(s.sigBuf)
	}
	if len(in) > maxSignature {
		s.droppedSigs++
		return
	}
	t.sig = appendSigPayload(t.sig[:0], in)
	t.sigSet = true
}

// appendToolID appends the tool_use id of t: its id (a raw JSON string)
// with the encoded signature, when it has one, before the closing quote.
func (s *Stream) appendToolID(dst []byte, t *toolCall) []byte {
	if !t.sigSet {
		return append(dst, t.id...)
	}
	if strings.Contains(view(t.id), SignatureMarker) { // it could not be split back
		s.droppedSigs++
		return append(dst, t.id...)
	}
	dst = append(dst, t.id[:len(t.id)-1]...)
	dst = append(dst, t.sig...)
	return append(dst, '"')
}

// DroppedSignatures returns how many Gemini thought signatures could not be
// carried in their tool_use id: one that arrived after its call's block had
// started (the id was already sent), one for an upstream id that already
// holds SignatureMarker, or one larger than 64 KiB. The next request
// replaying such a call goes upstream without its signature, which Gemini 3
// rejects; worth a warning log.
func (s *Stream) DroppedSignatures() int { return s.droppedSigs }
