package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/internal/jsonw"
)

// secretMask replaces the upstream key wherever upstream text carries it
// (the mask redact uses too): nothing of the key is shown, not even
// OpenAI's "sk-ab***yz", since the text may reach any client.
const secretMask = "[REDACTED]"

// minSecretLen: a shorter upstream key is not scrubbed. A key that short
// is guessable anyway, and replacing every "local" or "x" in an error
// message would mangle it; redact's patterns still apply to log lines.
const minSecretLen = 8

// maxScrubDepth bounds how many layers of JSON string nesting (a JSON
// document quoted inside a JSON string, inside ...) scrub decodes.
const maxScrubDepth = 3

// secret removes the configured upstream key from text the upstream sent,
// before it reaches a client or a log line: gateways and self-hosted
// servers echo the key, or the whole Authorization header, in their error
// messages. It is only used on error paths; successful answers are not
// scanned. The zero value scrubs nothing.
type secret struct {
	key []byte // nil: nothing to scrub (no key, or a short one)
	// slashed is key with every '/' written "\/" (PHP's JSON encoder and
	// others), found even outside a JSON string; nil when key has no '/'.
	slashed []byte
}

// newSecret returns the scrubber of key (see minSecretLen).
func newSecret(key string) secret {
	if len(key) < minSecretLen {
		return secret{}
	}
	s := secret{key: []byte(key)}
	if strings.Contains(key, "/") {
		s.slashed = []byte(strings.ReplaceAll(key, "/", `\/`))
	}
	return s
}

// on reports whether s scrubs anything.
func (s *secret) on() bool { return s.key != nil }

// scrub returns b with every occurrence of the key replaced by secretMask:
// as is, and inside JSON string literals however they escape it ("\/",
// "\u002b", ... and JSON quoted inside JSON). It returns b itself when
// nothing had to change, and a new slice otherwise (b is not modified).
func (s *secret) scrub(b []byte) []byte {
	if s.key == nil {
		return b
	}
	return s.scrubDepth(b, 0)
}

// scrubString is scrub for a string.
func (s *secret) scrubString(str string) string {
	if s.key == nil || (!strings.Contains(str, string(s.key)) && strings.IndexByte(str, '\\') < 0) {
		return str
	}
	b := []byte(str)
	if out := s.scrub(b); !bytes.Equal(out, b) {
		return string(out)
	}
	return str
}

func (s *secret) scrubDepth(b []byte, depth int) []byte {
	if bytes.Contains(b, s.key) {
		b = bytes.ReplaceAll(b, s.key, []byte(secretMask))
	}
	if s.slashed != nil && bytes.Contains(b, s.slashed) {
		b = bytes.ReplaceAll(b, s.slashed, []byte(secretMask))
	}
	if depth >= maxScrubDepth || bytes.IndexByte(b, '\\') < 0 {
		return b
	}
	// JSON string literals with escapes in them: decode, scrub what they
	// say (which may itself be JSON with string literals), and write them
	// back encoded when that changed anything.
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			break
		}
		start := i + q
		end, escaped := start+1, false
		for end < len(b) && b[end] != '"' {
			if b[end] == '\\' {
				escaped = true
				end++
			}
			end++
		}
		if end >= len(b) {
			break // unterminated: plain text, scrubbed above
		}
		if escaped {
			var dec string
			if json.Unmarshal(b[start:end+1], &dec) == nil {
				d := []byte(dec)
				if sc := s.scrubDepth(d, depth+1); len(sc) != len(d) || !bytes.Equal(sc, d) {
					out = append(out, b[last:start]...)
					out = jsonw.AppendString(out, string(sc))
					last = end + 1
				}
			}
		}
		i = end + 1
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// trimPartial cuts b where it ends with the key's first 4 or more bytes:
// a body read only up to a limit may stop in the middle of the key.
func (s *secret) trimPartial(b []byte) []byte {
	for n := len(s.key) - 1; n >= 4; n-- {
		if bytes.HasSuffix(b, s.key[:n]) {
			return b[:len(b)-n]
		}
	}
	return b
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
