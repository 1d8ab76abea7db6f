package toanthropic

import (
	"errors"
	"strings"
	"testing"
)

// TestMapFinish: finish reasons in any letter case (gateways pass Gemini's
// STOP, MAX_TOKENS, SAFETY through); Gemini's safety endings are refusals;
// anything else is unknown.
func TestMapFinish(t *testing.T) {
	for _, c := range []struct {
		reason   string
		toolUsed bool
		stop     string
		known    bool
	}{
		{"stop", false, stopEndTurn, true},
		{"STOP", false, stopEndTurn, true},
		{"stop_sequence", false, stopEndTurn, true},
		{"MAX_TOKENS", false, stopMaxTokens, true},
		{"SAFETY", false, stopRefusal, true},
		{"RECITATION", false, stopRefusal, true},
		{"prohibited_content", false, stopRefusal, true},
		{"Tool_Calls", true, stopToolUse, true},
		{"MALFORMED_FUNCTION_CALL", false, stopEndTurn, false},
		{"error", true, stopToolUse, false},
		{"abort", false, stopEndTurn, false},
	} {
		if stop, known := mapFinish(c.reason, c.toolUsed); stop != c.stop || known != c.known {
			t.Errorf("mapFinish(%q, %v) = %s %v, want %s %v", c.reason, c.toolUsed, stop, known, c.stop, c.known)
		}
	}
}

// TestUnknownFinishReported: an unknown finish_reason is not a silent
// end_turn: the stream sends an error event naming it before message_delta,
// and a unary answer is an UpstreamError.
func TestUnknownFinishReported(t *testing.T) {
	s := NewStream(Config{Model: "m"})
	out, err := s.Event(nil, []byte(`{"choices":[{"delta":{"content":"partial"},"finish_reason":"error"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	out = s.Finish(out, nil)
	e, d := strings.Index(string(out), "event: error\n"), strings.Index(string(out), "event: message_delta\n")
	if e < 0 || d < e || !strings.Contains(string(out), `finish_reason \"error\"`) || !strings.HasSuffix(string(out), "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
		t.Fatalf("stream:\n%s", out)
	}
	if strings.Count(string(out), "event: error\n") != 1 {
		t.Fatalf("one error event expected:\n%s", out)
	}

	dst := []byte("kept")
	got, _, _, err := Message(dst, []byte(`{"choices":[{"message":{"content":"partial"},"finish_reason":"MALFORMED_FUNCTION_CALL"}]}`), Config{Model: "m"})
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Type != "api_error" || !strings.Contains(ue.Message, "MALFORMED_FUNCTION_CALL") || string(got) != "kept" {
		t.Fatalf("unary: %v, dst %q (must be unchanged)", err, got)
	}
	if _, _, stop, err := Message(nil, []byte(`{"choices":[{"message":{"content":"ok"},"finish_reason":"STOP"}]}`), Config{Model: "m"}); err != nil || stop != stopEndTurn {
		t.Fatalf("unary STOP: %s %v", stop, err)
	}
}

// TestEmptyReasoningContentDefers: an upstream that sends an empty
// reasoning_content next to a non-empty reasoning (both fields, one
// unused) keeps the reasoning, streamed and unary.
func TestEmptyReasoningContentDefers(t *testing.T) {
	cfg := Config{Model: "m", Thinking: true}
	s := NewStream(cfg)
	out, err := s.Event(nil, []byte(`{"choices":[{"delta":{"reasoning_content":"","reasoning":"think first"}}]}`))
	if err != nil || !strings.Contains(string(out), `"thinking_delta","thinking":"think first"`) {
		t.Fatalf("stream: %v\n%s", err, out)
	}
	msg, _, _, err := Message(nil, []byte(`{"choices":[{"message":{"reasoning_content":"","reasoning":"think first","content":"ok"},"finish_reason":"stop"}]}`), cfg)
	if err != nil || !strings.Contains(string(msg), `"thinking":"think first"`) {
		t.Fatalf("unary: %v\n%s", err, msg)
	}
}
