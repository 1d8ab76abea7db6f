package toopenai

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ccproxy/ccproxy/proxy/toanthropic"
)

// sigID is the tool_use id toanthropic builds for an upstream id and a
// Gemini thought signature.
func sigID(id, sig string) string {
	return id + sigMarker + base64.RawURLEncoding.EncodeToString([]byte(sig))
}

// TestSignatureMarkerMatches pins the marker to toanthropic's: the two
// packages are the two halves of one encoding.
func TestSignatureMarkerMatches(t *testing.T) {
	if sigMarker != toanthropic.SignatureMarker {
		t.Fatalf("toopenai splits on %q, toanthropic joins with %q", sigMarker, toanthropic.SignatureMarker)
	}
}

// thoughtSigHistory is a Claude Code turn replaying a Gemini step with two
// parallel calls (the signature on the first only) and their results.
func thoughtSigHistory(id1, id2 string) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return `[{"role":"user","content":"read both"},` +
		`{"role":"assistant","content":[{"type":"text","text":"reading"},` +
		`{"type":"tool_use","id":` + q(id1) + `,"name":"Read","input":{"path":"a"}},` +
		`{"type":"tool_use","id":` + q(id2) + `,"name":"Read","input":{"path":"b"}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":` + q(id1) + `,"content":"A"},` +
		`{"type":"tool_result","tool_use_id":` + q(id2) + `,"content":"B"}]}]`
}

// TestThoughtSignatureHistory: an id carrying a signature goes upstream as
// the original id plus extra_content.google.thought_signature with the
// exact signature (escapes, '/', '+', '=', a quote, a control byte and
// non-ASCII included), and the tool message refers to the original id; the
// parallel call without one is copied unchanged, without extra_content.
func TestThoughtSignatureHistory(t *testing.T) {
	for _, sig := range []string{
		"CiQBjz1rX+abc/def==",
		`odd "sig" \ with` + "\n\x01 é ✓ " + strings.Repeat("Zm9v+/", 200), // longer than one decoding run
		"skip_thought_signature_validator",
		strings.Repeat("x", 191) + "é✓ end", // a character across two decoding runs
	} {
		id1 := sigID("function-call-1", sig)
		m, _ := translateJSON(t, req("gpt-4o", thoughtSigHistory(id1, "function-call-2"), ""), nil)
		msgs := m["messages"].([]any)
		calls := msgs[1].(map[string]any)["tool_calls"].([]any)
		c1, c2 := calls[0].(map[string]any), calls[1].(map[string]any)
		if c1["id"] != "function-call-1" {
			t.Errorf("first call id %q", c1["id"])
		}
		got, _ := c1["extra_content"].(map[string]any)["google"].(map[string]any)["thought_signature"].(string)
		if got != sig {
			t.Errorf("signature %q; want %q", got, sig)
		}
		if c2["id"] != "function-call-2" {
			t.Errorf("second call id %q", c2["id"])
		}
		if _, ok := c2["extra_content"]; ok {
			t.Errorf("second call got extra_content: %v", c2)
		}
		for i, want := range []string{"function-call-1", "function-call-2"} {
			if tm := msgs[2+i].(map[string]any); tm["role"] != "tool" || tm["tool_call_id"] != want {
				t.Errorf("tool message %d: %v; want tool_call_id %q", i, tm, want)
			}
		}
	}
}

// TestToolIDsWithoutSignatureUnchanged: ids without the marker, or whose
// payload is not base64url, go upstream byte for byte and no extra_content
// is written anywhere.
func TestToolIDsWithoutSignatureUnchanged(t *testing.T) {
	for _, id := range []string{
		"toolu_01ABC", "call_x__thought__c2ln", "function-call-7",
		"a" + sigMarker, "a" + sigMarker + "b", "a" + sigMarker + "b!c=", "a" + sigMarker + "QQ==",
		// Not ids toanthropic builds: the marker twice (the payload would
		// decode to bytes that are not text), no upstream id before it, a
		// signature that is not UTF-8 (it would go out as invalid JSON text),
		// also when the bad byte ends the first decoding run.
		"a" + sigMarker + "b" + sigMarker + "QUJD", sigMarker + "QUJD", sigID("call_1", "ok \xff\xfe"),
		sigID("call_1", strings.Repeat("x", 191)+"\xc3"), sigID("call_1", strings.Repeat("x", 191)+"\xc3("),
	} {
		body := req("gpt-4o", thoughtSigHistory(id, "t2"), "")
		out, _, err := Translate(nil, []byte(body), nil)
		if err != nil {
			t.Fatal(err)
		}
		checkOutput(t, out)
		if strings.Contains(string(out), "extra_content") {
			t.Errorf("%q: extra_content sent: %s", id, out)
		}
		raw, _ := json.Marshal(id)
		if n := strings.Count(string(out), `"id":`+string(raw)) + strings.Count(string(out), `"tool_call_id":`+string(raw)); n != 2 {
			t.Errorf("%q: id copied %d times; want 2 (call and tool message): %s", id, n, out)
		}
	}
}

// TestThoughtSignatureFromAnswer is the round trip through both packages:
// the tool_use id toanthropic.Message builds from a Gemini answer (an
// escaped signature) comes back as the upstream id and the exact signature.
func TestThoughtSignatureFromAnswer(t *testing.T) {
	const sig = "Ci/x+y=="
	answer := `{"id":"c","object":"chat.completion","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[` +
		`{"id":"function-call-9","type":"function","function":{"name":"Read","arguments":"{\"path\":\"a\"}"},"extra_content":{"google":{"thought_signature":"Ci\/x\u002by=="}}},` +
		`{"id":"function-call-10","type":"function","function":{"name":"Read","arguments":"{\"path\":\"b\"}"}}]}}]}`
	msg, _, _, err := toanthropic.Message(nil, []byte(answer), toanthropic.Config{Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Content []struct{ ID string }
	}
	if err := json.Unmarshal(msg, &a); err != nil || len(a.Content) != 2 {
		t.Fatalf("%s: %v", msg, err)
	}
	m, _ := translateJSON(t, req("gpt-4o", thoughtSigHistory(a.Content[0].ID, a.Content[1].ID), ""), nil)
	calls := m["messages"].([]any)[1].(map[string]any)["tool_calls"].([]any)
	assertJSON(t, "tool_calls", calls, `[`+
		`{"id":"function-call-9","type":"function","function":{"name":"Read","arguments":"{\"path\":\"a\"}"},"extra_content":{"google":{"thought_signature":"`+sig+`"}}},`+
		`{"id":"function-call-10","type":"function","function":{"name":"Read","arguments":"{\"path\":\"b\"}"}}]`)
}
