package toanthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

func TestStreamAccessors(t *testing.T) {
	tests := []struct {
		file          string
		stop, finish  string
		unknown       bool
		usage         Usage
		wantErrorType string // in the output, "" for none
	}{
		{"text-only", "end_turn", "stop", false, Usage{200, 42, 1000}, ""},
		{"usage-after-finish", "end_turn", "stop", false, Usage{30, 3, 20}, ""},
		{"length-finish", "max_tokens", "length", false, Usage{900, 3, 0}, ""},
		{"content-filter", "refusal", "content_filter", false, Usage{200, 42, 1000}, ""},
		{"tool-quirks", "tool_use", "stop", false, Usage{900, 6, 0}, ""},
		{"stop-sequence", "stop_sequence", "stop", false, Usage{900, 2, 0}, ""},
		{"unknown-finish", "end_turn", "MALFORMED_FUNCTION_CALL", true, Usage{900, 1, 0}, `finish_reason \"MALFORMED_FUNCTION_CALL\"`},
		{"truncated", "", "", false, Usage{900, 5, 0}, `"type":"api_error"`},
		{"midstream-error", "", "", false, Usage{900, 1, 0}, `"type":"rate_limit_error"`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in, err := os.ReadFile("testdata/" + tt.file + ".openai.sse")
			if err != nil {
				t.Fatal(err)
			}
			s := NewStream(goldenConfig(tt.file))
			out := translate(t, s, in)
			if s.StopReason() != tt.stop || s.FinishReason() != tt.finish || s.UnknownFinish() != tt.unknown {
				t.Fatalf("stop %q finish %q unknown %v; want %q %q %v", s.StopReason(), s.FinishReason(), s.UnknownFinish(), tt.stop, tt.finish, tt.unknown)
			}
			if s.Usage() != tt.usage {
				t.Fatalf("usage %+v; want %+v", s.Usage(), tt.usage)
			}
			hasErr := bytes.Contains(out, []byte("event: error\n"))
			if hasErr != (tt.wantErrorType != "") || (hasErr && !bytes.Contains(out, []byte(tt.wantErrorType))) {
				t.Fatalf("error event mismatch (want %q):\n%s", tt.wantErrorType, out)
			}
		})
	}
}

func TestStreamEventErrors(t *testing.T) {
	s := NewStream(Config{Model: "m"})
	out, err := s.Event(nil, []byte(`{"choices":[{"delta":{"content":"a"}}]}`))
	if err != nil || !s.ContentStarted() || !bytes.HasPrefix(out, []byte("event: message_start\n")) {
		t.Fatalf("first chunk: err %v started %v out %q", err, s.ContentStarted(), out)
	}
	out, err = s.Event(nil, []byte(`{"error":{"message":"busy","type":"server_overloaded"}}`))
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Type != "overloaded_error" || ue.Message != "busy" || !s.Done() {
		t.Fatalf("error chunk: err %v done %v", err, s.Done())
	}
	if !bytes.HasPrefix(out, []byte("event: error\n")) || !bytes.HasSuffix(out, []byte("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")) {
		t.Fatalf("error chunk output %q", out)
	}
	if out, err := s.Event(nil, []byte(`{"choices":[{"delta":{"content":"late"}}]}`)); len(out) != 0 || err != nil {
		t.Fatalf("after Done: %q %v", out, err)
	}
	if out := s.Finish(nil, nil); len(out) != 0 {
		t.Fatalf("Finish after Done: %q", out)
	}

	s.Reset(Config{})
	out, err = s.Event(nil, []byte(`{"choices":[`))
	if err == nil || !s.Done() || validate(out, false) != nil {
		t.Fatalf("malformed: err %v done %v", err, s.Done())
	}
}

func TestStreamFinishReadError(t *testing.T) {
	s := NewStream(Config{})
	out, _ := s.Event(nil, []byte(`{"choices":[{"delta":{"content":"a"},"finish_reason":"stop"}]}`))
	out = s.Finish(out, io.ErrUnexpectedEOF)
	if err := validate(out, true); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"upstream stream ended unexpectedly: unexpected EOF"`)) {
		t.Fatalf("no error event: %s", out)
	}
	// A clean EOF after finish_reason without usage or [DONE] is not an error.
	s.Reset(Config{})
	out, _ = s.Event(nil, []byte(`{"choices":[{"delta":{"content":"a"},"finish_reason":"stop"}]}`))
	out = s.Finish(out, nil)
	if bytes.Contains(out, []byte("event: error")) || !s.Done() || s.StopReason() != "end_turn" {
		t.Fatalf("clean EOF: %s", out)
	}
	// Finish on a stream that never started still yields a valid stream.
	s.Reset(Config{})
	if err := validate(s.Finish(nil, errors.New("dial")), false); err != nil {
		t.Fatal(err)
	}
}

func TestStreamResetGeneratesIDs(t *testing.T) {
	s := NewStream(Config{})
	a := string(s.Start(nil))
	s.Reset(Config{})
	b := string(s.Start(nil))
	if a == b || !strings.Contains(a, `"id":"msg_`) {
		t.Fatalf("message ids not fresh: %q / %q", a, b)
	}
	// Synthetic tool ids.
	out, _ := s.Event(nil, []byte(`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"Bash","arguments":"{}"}}]}}]}`))
	if !synthID.Match(out) {
		t.Fatalf("no synthetic tool id in %s", out)
	}
}

func TestThinkingSignatureMatchesStream(t *testing.T) {
	s := NewStream(Config{Thinking: true})
	out, _ := s.Event(nil, []byte(`{"choices":[{"delta":{"reasoning_content":"caf\u00e9 \"q\"\n\ud83d\ude00 "}}]}`))
	out, _ = s.Event(out, []byte(`{"choices":[{"delta":{"reasoning_content":"é\\"}}]}`))
	out, _ = s.Event(out, []byte(`{"choices":[{"delta":{"content":"x"}}]}`))
	want := `"signature":"` + ThinkingSignature("café \"q\"\n😀 é\\") + `"`
	if !bytes.Contains(out, []byte(want)) {
		t.Fatalf("signature %s not in\n%s", want, out)
	}
}

func TestArgScan(t *testing.T) {
	tests := []struct {
		frags    []string // raw JSON string contents
		complete bool
	}{
		{[]string{`{\"a\":1}`}, true},
		{[]string{`{\"a\":`, `\"}\"`}, false},
		{[]string{`{\"a\":`, `\"}\\\\\"}`}, true}, // value is `}\` then the object closes
		{[]string{`{\"a\":[1,{}]`}, false},
		{[]string{`{\"a\":\"\\\"}\"}`}, true}, // escaped quote inside a string
		{[]string{`\u007b\u007d`}, true},
		{[]string{`  `}, false},
	}
	for _, tt := range tests {
		var a argScan
		for _, f := range tt.frags {
			a.feed(f)
		}
		if a.complete != tt.complete {
			t.Errorf("%q: complete %v; want %v", tt.frags, a.complete, tt.complete)
		}
	}
}

func TestPingAndErrorEvent(t *testing.T) {
	if got := string(Ping(nil)); got != "event: ping\ndata: {\"type\": \"ping\"}\n\n" {
		t.Fatalf("ping %q", got)
	}
	got := string(ErrorEvent(nil, "overloaded_error", "a \"b\"\n\x01\xff"))
	want := "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"a \\\"b\\\"\\n\\u0001\\ufffd\"}}\n\n"
	if got != want {
		t.Fatalf("got %q; want %q", got, want)
	}
}

func FuzzStream(f *testing.F) {
	for _, name := range []string{"parallel-tools-interleaved", "reasoning-text", "tool-quirks"} {
		in, err := os.ReadFile("testdata/" + name + ".openai.sse")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(in, true)
	}
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":3,\"function\":{\"arguments\":{\"a\":1}}}]}}]}\n\n"), false)
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"\\ud800\"},\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":-5}}\n\n"), true)
	f.Fuzz(func(t *testing.T, in []byte, thinking bool) {
		s := NewStream(Config{Model: "m\x00\"", Thinking: thinking, StopSequences: []string{"x"}})
		out := translate(t, s, in)
		if err := validate(out, false); err != nil {
			t.Fatalf("%v\ninput %q\noutput:\n%s", err, in, out)
		}
	})
}

// TestFinishOwnError: an *Error (ccproxy's own reason to end a stream) is
// reported with its type and message as they are; any other error is an
// api_error about the upstream.
func TestFinishOwnError(t *testing.T) {
	for _, c := range []struct {
		err            error
		typ, wantInMsg string
	}{
		{&Error{Type: "overloaded_error", Message: "ccproxy is shutting down"}, "overloaded_error", "ccproxy is shutting down"},
		{fmt.Errorf("wrapped: %w", &Error{Type: "api_error", Message: "cut"}), "api_error", "cut"},
		{errors.New("connection reset"), "api_error", "upstream stream ended unexpectedly: connection reset"},
	} {
		s := NewStream(Config{Model: "m"})
		out, err := s.Event(nil, []byte(`{"choices":[{"delta":{"content":"a"}}]}`))
		if err != nil {
			t.Fatal(err)
		}
		out = s.Finish(out, c.err)
		i := bytes.Index(out, []byte("event: error\ndata: "))
		if i < 0 || !bytes.HasSuffix(out, []byte("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")) {
			t.Fatalf("%v: %q", c.err, out)
		}
		line := out[i+len("event: error\ndata: "):]
		line = line[:bytes.IndexByte(line, '\n')]
		var e struct {
			Error struct{ Type, Message string }
		}
		if err := json.Unmarshal(line, &e); err != nil || e.Error.Type != c.typ || e.Error.Message != c.wantInMsg {
			t.Errorf("%v: error event %s (%v), want %s %q", c.err, line, err, c.typ, c.wantInMsg)
		}
	}
}
