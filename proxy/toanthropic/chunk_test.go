package toanthropic

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// TestReadChunkValidity checks that the chunk reader accepts exactly what
// gjson.ValidBytes (the validator it replaced) accepts.
func TestReadChunkValidity(t *testing.T) {
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	for _, doc := range []string{
		`{}`, `[]`, `0`, `-0.5e+3`, `"x"`, `null`, `true`, ` {"a" : [ 1 , {"b":{}} ] } `,
		`{"choices":[{"delta":{"content":"a\u00e9\n"}}]}`,
		`{"x":` + deep + `}`,
		`{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":` + deep + `}}]}}]}`,
		// invalid
		``, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{"a":1}}`, `{"a":1} x`, `01`, `-`, `1.`, `1e`, `.5`,
		`tru`, `nul`, `"a`, "\"a\x01\"", `"\x"`, `"\u12g4"`, `{"a":[}`, `{"a":{]}`, `{1:2}`, `{"a" 1}`,
		`{"x":` + deep + `]}`, `{"x":` + deep[:150000] + `}`,
		`{"choices":[{"delta":{"content":"a"}}],"x":tru}`,
		`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"A","arguments":"{"}}],}}]}`,
	} {
		var s Stream
		var c chunk
		if got, want := s.readChunk(doc, &c), gjson.Valid(doc); got != want {
			t.Errorf("readChunk(%.60q) = %v; gjson says %v", doc, got, want)
		}
	}
}

// FuzzReadChunkValid compares the reader's validity decision with gjson's.
func FuzzReadChunkValid(f *testing.F) {
	for _, c := range benchChunks {
		f.Add([]byte(c.chunk))
	}
	f.Add([]byte(`{"a":[1,-2.5e3,"\u00e9\"",true,false,null,{}],"b":{"c":[[]]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Stream
		var c chunk
		if got, want := s.readChunk(view(b), &c), gjson.ValidBytes(b); got != want {
			t.Fatalf("readChunk(%q) = %v; gjson says %v", b, got, want)
		}
	})
}

// TestEventNeverHalfApplies checks that a chunk whose valid beginning carries
// content but whose end is malformed emits none of that content.
func TestEventNeverHalfApplies(t *testing.T) {
	for _, chunk := range []string{
		`{"choices":[{"delta":{"content":"LEAK"}}],"x":tru}`,
		`{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"LEAK","arguments":"{}"}}]}}],"usage":{`,
		`{"choices":[{"delta":{"content":"LEAK"},"finish_reason":"stop"}]}}`,
	} {
		s := NewStream(Config{})
		out, err := s.Event(nil, []byte(chunk))
		if err == nil || !s.Done() || bytes.Contains(out, []byte("LEAK")) || bytes.Contains(out, []byte("content_block_start")) {
			t.Errorf("%s: err %v, done %v, output\n%s", chunk, err, s.Done(), out)
		}
		if err := validate(out, false); err != nil {
			t.Error(err)
		}
	}
}

// TestEventReadingRules pins the field rules the reader shares with the gjson
// walk it replaced: escaped keys match, the last duplicate of a field wins
// (the first for a choice's index), the first choice with index absent or 0
// is used, and a non-object element ends that search.
func TestEventReadingRules(t *testing.T) {
	tests := []struct {
		name, chunk string
		want        []string // substrings of the output
		not         []string
	}{
		{"escaped keys", `{"choi\u0063es":[{"delt\u0061":{"cont\u0065nt":"hi"},"finish_reason":"sto\u0070"}],"usage":{"prompt_tokens":3}}`,
			[]string{`"text":"hi"`, `"stop_reason":"end_turn"`, `"input_tokens":3`}, nil},
		{"last duplicate wins", `{"choices":[{"delta":{"content":"old","content":"new"}}]}`,
			[]string{`"text":"new"`}, []string{"old"}},
		{"later delta replaces tool calls", `{"choices":[{"delta":{"tool_calls":[{"id":"c","function":{"name":"OLD"}}]},"delta":{"content":"x"}}]}`,
			[]string{`"text":"x"`}, []string{"OLD", "tool_use"}},
		{"index 1 skipped", `{"choices":[{"index":1,"delta":{"content":"one"}},{"index":0,"delta":{"content":"zero"}}]}`,
			[]string{`"text":"zero"`}, []string{"one"}},
		{"first index counts", `{"choices":[{"index":0,"index":1,"delta":{"content":"zero"}}]}`,
			[]string{`"text":"zero"`}, nil},
		{"non-object choice ends search", `{"choices":[null,{"delta":{"content":"x"}}]}`,
			nil, []string{"content_block_start"}},
		{"reasoning fallback", `{"choices":[{"delta":{"reasoning_content":null,"reasoning":"why"}}]}`,
			[]string{`"thinking":"why"`}, nil},
		{"index from position", `{"choices":[{"delta":{"tool_calls":[5,{"id":"b","function":{"name":"B","arguments":"{}"}}]}}]}`,
			[]string{`"name":"B"`, `"partial_json":"{}"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStream(Config{Thinking: true})
			out, err := s.Event(nil, []byte(tt.chunk))
			if err != nil {
				t.Fatal(err)
			}
			out = s.Finish(out, nil)
			if err := validate(out, false); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !bytes.Contains(out, []byte(w)) {
					t.Errorf("no %s in\n%s", w, out)
				}
			}
			for _, w := range tt.not {
				if bytes.Contains(out, []byte(w)) {
					t.Errorf("%s in\n%s", w, out)
				}
			}
		})
	}
}
