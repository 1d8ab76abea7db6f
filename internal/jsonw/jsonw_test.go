package jsonw

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "nl\n\r\t", "\x00\x1f\x7f", "ünï💡", "bad\xffutf8", "</script>&"} {
		out := AppendString([]byte("x"), s)
		if out[0] != 'x' {
			t.Fatal("dst prefix lost")
		}
		var got string
		if err := json.Unmarshal(out[1:], &got); err != nil {
			t.Fatalf("%q -> %s: %v", s, out[1:], err)
		}
		want := s
		if !utf8.ValidString(s) {
			want = string([]rune(s)) // what a JSON decoder makes of it: U+FFFD
		}
		if got != want {
			t.Fatalf("%q round-tripped to %q", s, got)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("hello \"world\"\n")
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON for %q: %s", s, out)
		}
	})
}

func BenchmarkAppendString(b *testing.B) {
	s := "A typical sentence of model output, with \"quotes\" and a newline\n."
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendString(buf[:0], s)
	}
}
