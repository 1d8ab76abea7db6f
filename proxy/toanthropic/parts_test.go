package toanthropic

import (
	"strings"
	"testing"
)

// TestStreamContentParts: an array delta.content (Mistral) streams its
// text parts as text_delta and the texts of its thinking parts as
// thinking_delta, in order; parts of other types, sub-parts that are not
// text, and (without Config.Thinking) thinking are dropped.
func TestStreamContentParts(t *testing.T) {
	chunks := []string{
		`{"choices":[{"index":0,"delta":{"role":"assistant","content":[]}}]}`,
		`{"choices":[{"index":0,"delta":{"content":[{"type":"thinking","thinking":[{"type":"text","text":"a"},{"type":"reference","reference_ids":[1]},{"text":"b"}]}]}}]}`,
		`{"choices":[{"index":0,"delta":{"content":[{"thinking":"c","type":"thinking"},{"text":"X","type":"text"},{"type":"image_url","image_url":"u","text":"no"}]}}]}`,
		`{"choices":[{"index":0,"delta":{"content":[{"type":"text","text":""},{"type":"thinking","thinking":[{"type":"text","text":"d"}]},{"type":"text","text":"Y\n"}]}}]}`,
		`{"choices":[{"index":1,"delta":{"content":[{"type":"text","text":"other choice"}]}},{"index":0,"delta":{"content":"Z"},"finish_reason":"stop"}]}`,
		`[DONE]`,
	}
	for _, thinking := range []bool{true, false} {
		s := NewStream(Config{Model: "m", MessageID: "msg_1", Thinking: thinking})
		var out []byte
		for _, c := range chunks {
			var err error
			if out, err = s.Event(out, []byte(c)); err != nil {
				t.Fatalf("%s: %v", c, err)
			}
		}
		if err := validate(out, true); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var got []string
		for _, line := range strings.Split(string(out), "\n") {
			for _, k := range []string{`"text_delta","text":`, `"thinking_delta","thinking":`} {
				if i := strings.Index(line, k); i >= 0 {
					got = append(got, k[1:5]+":"+strings.TrimSuffix(line[i+len(k):], "}}"))
				}
			}
		}
		want := `thin:"a"|thin:"b"|thin:"c"|text:"X"|thin:"d"|text:"Y\n"|text:"Z"`
		if !thinking {
			want = `text:"X"|text:"Y\n"|text:"Z"`
		}
		if strings.Join(got, "|") != want {
			t.Fatalf("thinking %v: deltas %s; want %s\n%s", thinking, strings.Join(got, "|"), want, out)
		}
		if n := strings.Count(string(out), "event: content_block_start"); thinking && n != 4 || !thinking && n != 1 {
			t.Fatalf("thinking %v: %d blocks\n%s", thinking, n, out)
		}
	}
}

// TestStreamContentPartsMalformed: an array content that is not valid JSON
// fails the stream as any malformed chunk does.
func TestStreamContentPartsMalformed(t *testing.T) {
	s := NewStream(Config{Model: "m", Thinking: true})
	out, err := s.Event(nil, []byte(`{"choices":[{"index":0,"delta":{"content":[{"type":"thinking","thinking":[{"type":"text","text":"a"]}]}}]}`))
	if err == nil || !s.Done() || strings.Contains(string(out), "thinking_delta") {
		t.Fatalf("err %v done %v\n%s", err, s.Done(), out)
	}
}

// TestMessageContentParts: the unary path reads the same parts, merging
// consecutive pieces of one kind into one block whose signature is the
// stream's.
func TestMessageContentParts(t *testing.T) {
	body := `{"choices":[{"message":{"content":[{"type":"thinking","thinking":[{"type":"text","text":"a\"b"},{"type":"text","text":"c"}]},` +
		`{"type":"text","text":"X"},{"type":"reference","text":"no"},{"type":"text","text":"Y"},{"type":"thinking","thinking":"d"},{"type":"text","text":""}]},"finish_reason":"stop"}]}`
	out, _, _, err := Message(nil, []byte(body), Config{Model: "m", MessageID: "msg_1", Thinking: true})
	if err != nil {
		t.Fatal(err)
	}
	want := `"content":[{"type":"thinking","thinking":"a\"bc","signature":"` + ThinkingSignature(`a"bc`) + `"},{"type":"text","text":"XY"},` +
		`{"type":"thinking","thinking":"d","signature":"` + ThinkingSignature("d") + `"}]`
	if !strings.Contains(string(out), want) {
		t.Fatalf("got %s\nwant %s", out, want)
	}
	out, _, _, err = Message(nil, []byte(body), Config{Model: "m", MessageID: "msg_1"})
	if err != nil || !strings.Contains(string(out), `"content":[{"type":"text","text":"XY"}]`) {
		t.Fatalf("thinking off: %s %v", out, err)
	}
}
