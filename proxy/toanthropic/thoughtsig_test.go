package toanthropic

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// anthropicID is Anthropic's pattern for tool_use ids.
var anthropicID = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// geminiSig is a signature as Gemini writes it, and geminiSigRaw the same
// string JSON-escaped the way some encoders do ('/' as \/, '+' as \u002b).
const (
	geminiSig    = "CiQBjz1rX/x+abc/def=="
	geminiSigRaw = `"CiQBjz1rX\/x\u002babc\/def=="`
)

// splitSig splits a tool_use id built by the package into the upstream id
// and the decoded signature ("" when it carries none).
func splitSig(t *testing.T, id string) (string, string) {
	t.Helper()
	up, payload, ok := strings.Cut(id, SignatureMarker)
	if !ok {
		return id, ""
	}
	sig, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatalf("id %q: payload %v", id, err)
	}
	return up, string(sig)
}

// streamToolIDs runs chunks through s, checks the event grammar, and
// returns the ids of the tool_use blocks started, in order.
func streamToolIDs(t *testing.T, s *Stream, chunks ...string) []string {
	t.Helper()
	out := s.Start(nil)
	for _, c := range chunks {
		var err error
		if out, err = s.Event(out, []byte(c)); err != nil {
			t.Fatalf("chunk %s: %v", c, err)
		}
	}
	out = s.Finish(out, nil)
	if err := validate(out, true); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var ids []string
	for _, line := range strings.Split(string(out), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || !strings.Contains(data, `"content_block_start"`) || !strings.Contains(data, `"tool_use"`) {
			continue
		}
		var ev struct {
			ContentBlock struct{ ID string } `json:"content_block"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("%v: %s", err, data)
		}
		ids = append(ids, ev.ContentBlock.ID)
	}
	return ids
}

// geminiCall is a whole tool call as Gemini streams it (id, name, arguments
// and, when sigRaw is not empty, the signature in one element).
func geminiCall(index, id, name, args, sigRaw string) string {
	c := `{"index":` + index + `,"id":"` + id + `","type":"function","function":{"name":"` + name + `","arguments":` + args + `}`
	if sigRaw != "" {
		c += `,"extra_content":{"google":{"thought_signature":` + sigRaw + `}}`
	}
	return c + `}`
}

const finishToolCalls = `{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}`

// TestStreamThoughtSignature: Gemini's parallel calls in one chunk, the
// signature (escaped) on the first only: the first tool_use id carries the
// upstream id and the exact signature, the second is the upstream id
// unchanged; both fit Anthropic's id pattern.
func TestStreamThoughtSignature(t *testing.T) {
	s := NewStream(Config{Model: "m"})
	ids := streamToolIDs(t, s,
		`{"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[`+
			geminiCall("0", "function-call-1", "Read", `"{\"path\":\"a\"}"`, geminiSigRaw)+","+
			geminiCall("1", "function-call-2", "Read", `"{\"path\":\"b\"}"`, "")+`]}}]}`,
		finishToolCalls)
	if len(ids) != 2 {
		t.Fatalf("ids %q", ids)
	}
	if up, sig := splitSig(t, ids[0]); up != "function-call-1" || sig != geminiSig {
		t.Errorf("first id %q: upstream %q signature %q; want %q", ids[0], up, sig, geminiSig)
	}
	if ids[1] != "function-call-2" {
		t.Errorf("second id %q; want the upstream id unchanged", ids[1])
	}
	for _, id := range ids {
		if !anthropicID.MatchString(id) {
			t.Errorf("id %q is outside Anthropic's pattern", id)
		}
	}
	if s.DroppedSignatures() != 0 {
		t.Errorf("dropped %d", s.DroppedSignatures())
	}

	// A pooled Stream reused for an answer without signatures: ids unchanged.
	s.Reset(Config{Model: "m"})
	ids = streamToolIDs(t, s,
		`{"choices":[{"index":0,"delta":{"tool_calls":[`+geminiCall("0", "call_7", "Bash", `"{}"`, "")+`]}}]}`,
		finishToolCalls)
	if len(ids) != 1 || ids[0] != "call_7" {
		t.Fatalf("after Reset: ids %q", ids)
	}
}

// TestStreamThoughtSignatureTiming: a signature in a later fragment of a
// call still waiting for its block is carried; one arriving after the block
// started (its id already sent) is dropped and counted, and the stream stays
// valid. A call without an upstream id gets a synthetic one carrying it.
func TestStreamThoughtSignatureTiming(t *testing.T) {
	s := NewStream(Config{Model: "m"})
	ids := streamToolIDs(t, s,
		// Call 0 opens and stays open (its JSON is incomplete).
		`{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c0","function":{"name":"Read","arguments":"{\"pa"}}]}}]}`,
		// Call 1 waits in its buffer; its signature comes in a later fragment.
		`{"choices":[{"delta":{"tool_calls":[{"index":1,"function":{"name":"Bash","arguments":"{"}}]}}]}`,
		`{"choices":[{"delta":{"tool_calls":[{"index":1,"function":{"arguments":"}"},"extra_content":{"google":{"thought_signature":"late-but-waiting"}}}]}}]}`,
		// Call 0's signature after its block started: too late.
		`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"th\":1}"},"extra_content":{"google":{"thought_signature":"too-late"}}}]}}]}`,
		finishToolCalls)
	if len(ids) != 2 {
		t.Fatalf("ids %q", ids)
	}
	if ids[0] != "c0" {
		t.Errorf("first id %q; want c0 (its signature came after the id was sent)", ids[0])
	}
	up, sig := splitSig(t, ids[1])
	if !strings.HasPrefix(up, "toolu_") || sig != "late-but-waiting" || !anthropicID.MatchString(ids[1]) {
		t.Errorf("second id %q: upstream %q signature %q", ids[1], up, sig)
	}
	if s.DroppedSignatures() != 1 {
		t.Errorf("DroppedSignatures %d; want 1", s.DroppedSignatures())
	}

	// An upstream id that already holds the marker cannot be split back:
	// the id goes unchanged, the signature is counted as dropped.
	s.Reset(Config{Model: "m"})
	odd := "x" + SignatureMarker + "y"
	ids = streamToolIDs(t, s,
		`{"choices":[{"delta":{"tool_calls":[`+geminiCall("0", odd, "Read", `"{}"`, `"sig"`)+`]}}]}`, finishToolCalls)
	if len(ids) != 1 || ids[0] != odd || s.DroppedSignatures() != 1 {
		t.Fatalf("ids %q dropped %d", ids, s.DroppedSignatures())
	}
}

// TestMessageThoughtSignature: the unary path builds the same ids as the
// stream: signature (escaped upstream) on the first call, none on the
// second, a synthetic id when the upstream sent none.
func TestMessageThoughtSignature(t *testing.T) {
	body := `{"id":"c","object":"chat.completion","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[` +
		geminiCall("0", "function-call-1", "Read", `"{\"path\":\"a\"}"`, geminiSigRaw) + "," +
		geminiCall("1", "function-call-2", "Read", `"{}"`, "") + "," +
		`{"type":"function","function":{"name":"Bash","arguments":"{}"},"extra_content":{"google":{"thought_signature":"s3"}}}]}}]}`
	out, _, stop, err := Message(nil, []byte(body), Config{Model: "m"})
	if err != nil || stop != "tool_use" {
		t.Fatalf("stop %q err %v", stop, err)
	}
	var m struct{ Content []struct{ ID string } }
	if err := json.Unmarshal(out, &m); err != nil || len(m.Content) != 3 {
		t.Fatalf("%s: %v", out, err)
	}
	if up, sig := splitSig(t, m.Content[0].ID); up != "function-call-1" || sig != geminiSig {
		t.Errorf("first id %q: %q %q", m.Content[0].ID, up, sig)
	}
	if m.Content[1].ID != "function-call-2" {
		t.Errorf("second id %q", m.Content[1].ID)
	}
	if up, sig := splitSig(t, m.Content[2].ID); !strings.HasPrefix(up, "toolu_") || sig != "s3" {
		t.Errorf("third id %q: %q %q", m.Content[2].ID, up, sig)
	}
	for _, c := range m.Content {
		if !anthropicID.MatchString(c.ID) {
			t.Errorf("id %q is outside Anthropic's pattern", c.ID)
		}
	}
}
