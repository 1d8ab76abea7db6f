package proxy

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestScrubForms: the key is replaced as is and however a JSON encoder
// (or two, nested) escapes it; text without it comes back as it was.
func TestScrubForms(t *testing.T) {
	s := newSecret(echoKey)
	nested, _ := json.Marshal(map[string]string{"detail": `{"authorization":"Bearer ` + strings.ReplaceAll(echoKey, "/", `\/`) + `"}`})
	cases := []string{
		"plain " + echoKey + " text",
		`{"message":"key gw_9f8e7d6c\/5b4a+3210fedcba98"}`,
		`{"message":"key gw_9f8e7d6c/5b4a\u002b3210fedcba98"}`,
		`{"message":"key \u0067w_9f8e7d6c\/5b4a\u002B3210fedcba98 and \"quotes\""}`,
		`not json: gw_9f8e7d6c\/5b4a+3210fedcba98, twice gw_9f8e7d6c\/5b4a+3210fedcba98`,
		string(nested),
		"data: " + `{"error":{"message":"k=gw_9f8e7d6c\/5b4a\u002b3210fedcba98"}}` + "\n\n",
	}
	for _, c := range cases {
		got := s.scrub([]byte(c))
		var dec any
		if json.Valid([]byte(c)) {
			if err := json.Unmarshal(got, &dec); err != nil {
				t.Errorf("scrub(%s) = %s: no longer JSON: %v", c, got, err)
			}
		}
		for _, f := range leakForms {
			if bytes.Contains(got, []byte(f)) {
				t.Errorf("scrub(%s) = %s: still holds %q", c, got, f)
			}
		}
		// Decoded (all JSON layers), it must not say the key either.
		if dec != nil && decodedHolds(dec, "9f8e7d6c") {
			t.Errorf("scrub(%s) = %s: decoded still holds the key", c, got)
		}
		if !bytes.Contains(got, []byte(secretMask)) {
			t.Errorf("scrub(%s) = %s: no mask", c, got)
		}
		if gs := s.scrubString(c); gs != string(got) {
			t.Errorf("scrubString(%s) = %s, scrub gave %s", c, gs, got)
		}
	}
	for _, clean := range []string{"", `{"error":{"message":"Incorrect API key provided: gw_9f***98","type":"x"}}`, `a \"quoted\" \/ text "unterminated \`} {
		b := []byte(clean)
		if got := s.scrub(b); string(got) != clean || (len(b) > 0 && &got[0] != &b[0]) {
			t.Errorf("scrub(%s) = %s: changed or copied clean text", clean, got)
		}
		if got := s.scrubString(clean); got != clean {
			t.Errorf("scrubString(%s) = %s", clean, got)
		}
	}
}

// TestScrubShortKey: a key under minSecretLen is not scrubbed (it would
// mangle ordinary words); no key scrubs nothing either.
func TestScrubShortKey(t *testing.T) {
	for _, k := range []string{"", "local", "1234567"} {
		s := newSecret(k)
		msg := "the local model 1234567 says hi"
		if s.on() || s.scrubString(msg) != msg {
			t.Errorf("key %q: on=%v, scrubbed %q", k, s.on(), s.scrubString(msg))
		}
	}
	if s := newSecret("12345678"); !s.on() || s.scrubString("id 12345678.") != "id [REDACTED]." {
		t.Errorf("an 8-byte key is not scrubbed: %q", s.scrubString("id 12345678."))
	}
}

// TestUpstreamErrorScrubs: the mapped error carries no key in its message,
// raw body, Content-Type or Retry-After; a compressed body holding the key
// is relayed decoded (identity), one without it as it came; a body cut
// at the read limit in the middle of the key loses the key's start too.
func TestUpstreamErrorScrubs(t *testing.T) {
	h := &Handler{secret: newSecret(echoKey)}
	hd := http.Header{"Content-Type": {"text/plain; k=" + echoKey}, "Retry-After": {echoKey}}
	e := h.upstreamError(429, hd, []byte("slow down, "+echoKey), false)
	for _, v := range []string{e.Message, string(e.Raw), e.RawType, e.RetryAfter} {
		if strings.Contains(v, "9f8e7d6c") {
			t.Errorf("key in %q", v)
		}
	}

	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(`{"error":{"message":"bad key ` + echoKey + `"}}`))
	zw.Close()
	e = h.upstreamError(400, http.Header{"Content-Encoding": {"gzip"}, "Content-Type": {"application/json"}}, zb.Bytes(), false)
	if e.RawEncoding != "" || !json.Valid(e.Raw) || bytes.Contains(e.Raw, []byte("9f8e7d6c")) || !bytes.Contains(e.Raw, []byte(secretMask)) {
		t.Errorf("gzip body with the key: encoding %q raw %s", e.RawEncoding, e.Raw)
	}

	zb.Reset()
	zw = gzip.NewWriter(&zb)
	zw.Write([]byte(`{"error":{"message":"quota"}}`))
	zw.Close()
	e = h.upstreamError(400, http.Header{"Content-Encoding": {"gzip"}}, zb.Bytes(), false)
	if e.RawEncoding != "gzip" || !bytes.Equal(e.Raw, zb.Bytes()) {
		t.Errorf("clean gzip body not relayed as it came: encoding %q", e.RawEncoding)
	}

	e = h.upstreamError(400, http.Header{"Content-Encoding": {"compress"}}, []byte(echoKey), false)
	if e.RawEncoding != "" || bytes.Contains(e.Raw, []byte("9f8e7d6c")) || !json.Valid(e.Raw) {
		t.Errorf("unknown coding: encoding %q raw %s", e.RawEncoding, e.Raw)
	}

	cut := []byte(strings.Repeat("x", 100) + "key " + echoKey[:12])
	e = h.upstreamError(500, http.Header{}, cut, true)
	if bytes.Contains(e.Raw, []byte(echoKey[:8])) || strings.Contains(e.Message, echoKey[:8]) {
		t.Errorf("a body cut inside the key keeps its start: %s / %s", e.Raw, e.Message)
	}
}

// decodedHolds reports whether a decoded JSON value says sub in any of its
// strings, or in a JSON document quoted inside one of them.
func decodedHolds(v any, sub string) bool {
	switch v := v.(type) {
	case string:
		var inner any
		if json.Unmarshal([]byte(v), &inner) == nil && decodedHolds(inner, sub) {
			return true
		}
		return strings.Contains(v, sub)
	case map[string]any:
		for k, x := range v {
			if strings.Contains(k, sub) || decodedHolds(x, sub) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if decodedHolds(x, sub) {
				return true
			}
		}
	}
	return false
}

// TestScrubAnyContext: an escaped key is found wherever it stands, not only
// in a well-formed JSON string literal: after a stray quote (text with JSON
// in it), in a literal cut by the read limit, next to an escape JSON does
// not know or a raw control byte. Valid JSON stays valid, and a key whose
// first byte follows a lone backslash takes the escape with it.
func TestScrubAnyContext(t *testing.T) {
	s := newSecret(echoKey)
	esc := `gw_9f8e7d6c/5b4a\u002b3210fedcba98`
	cases := []string{
		`upstream said 5" long: {"error":"key ` + esc + `"}`,
		`{"error":{"message":"bad key ` + esc, // cut at the read limit
		`{"error":"key ` + esc + ` \x"}`,
		"{\"error\":\"key " + esc + "\nmore\"}",
		`{"a":"` + esc + `\"}`,
		`{"a":"\\` + esc + `"}`,
		`{"a":"x\\\"` + esc + `\\\" y"}`,
	}
	for _, c := range cases {
		got := s.scrub([]byte(c))
		if bytes.Contains(got, []byte("9f8e7d6c")) || bytes.Contains(got, []byte("3210fedcba98")) {
			t.Errorf("scrub(%s) = %s: still holds the key", c, got)
		}
		if json.Valid([]byte(c)) && !json.Valid(got) {
			t.Errorf("scrub(%s) = %s: no longer JSON", c, got)
		}
	}
	// A key starting with an escape letter, right after a lone backslash:
	// the mask takes the backslash too, so the JSON stays valid.
	n := newSecret("nvapi-0123456789abcdef")
	in := `{"m":"line\nvapi-0123456789abcdef"}`
	got := n.scrub([]byte(in))
	if !json.Valid(got) || bytes.Contains(got, []byte("0123456789abcdef")) {
		t.Errorf("scrub(%s) = %s", in, got)
	}
	// Other escapes are left as they came.
	in = `{"a":"\u00e9\/x","b":"\u00e9 ` + esc + ` \/","c":"\t"}`
	if got := string(s.scrub([]byte(in))); got != `{"a":"\u00e9\/x","b":"\u00e9 `+secretMask+` \/","c":"\t"}` {
		t.Errorf("scrub(%s) = %s", in, got)
	}
}

// TestScrubSeveralKeys: every configured key is scrubbed, as is and
// escaped, in one text, and a body cut inside any key loses its start.
// Before, the scrubber knew one key.
func TestScrubSeveralKeys(t *testing.T) {
	s := newSecret(echoKey, echoKey2, "short")
	in := `{"error":{"message":"keys ` + echoKey + ` and ` + strings.ReplaceAll(echoKey2, "/", `\/`) + ` are short"}}`
	got := string(s.scrub([]byte(in)))
	for _, f := range leakForms {
		if strings.Contains(got, f) {
			t.Fatalf("scrub left %q: %s", f, got)
		}
	}
	if strings.Count(got, secretMask) != 2 || !strings.Contains(got, "are short") {
		t.Fatalf("scrub: %s", got)
	}
	if got := s.scrubString("key " + echoKey2); got != "key "+secretMask {
		t.Fatalf("scrubString: %q", got)
	}
	if got := string(s.trimPartial([]byte("key " + echoKey2[:10]))); got != "key " {
		t.Fatalf("trimPartial: %q", got)
	}
}
