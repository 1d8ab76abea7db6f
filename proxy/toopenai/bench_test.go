package toopenai

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fixtures(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob("../../testdata/cc-*.json")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no fixtures: %v", err)
	}
	return files
}

func BenchmarkTranslate(b *testing.B) {
	models, err := NewModels(ModelsConfig{})
	if err != nil {
		b.Fatal(err)
	}
	o := &Options{Models: models}
	for _, f := range fixtures(b) {
		body, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "cc-2.1.332-"), ".json")
		if strings.Contains(name, "count-tokens") {
			// A count_tokens body has no max_tokens; give it one.
			body = []byte(strings.Replace(string(body), `"model"`, `"max_tokens":1024,"model"`, 1))
		}
		benchTranslate(b, name, body, o)
		if strings.Contains(name, "first-turn") {
			// The fixtures are re-indented; Claude Code itself sends
			// compact JSON.
			var c bytes.Buffer
			if err := json.Compact(&c, body); err != nil {
				b.Fatal(err)
			}
			benchTranslate(b, name+"-compact", c.Bytes(), o)
		}
	}
}

func benchTranslate(b *testing.B, name string, body []byte, o *Options) {
	b.Run(name, func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		dst := make([]byte, 0, 2*len(body))
		for b.Loop() {
			out, _, err := Translate(dst[:0], body, o)
			if err != nil {
				b.Fatal(err)
			}
			dst = out
		}
	})
}

// BenchmarkEncodingJSONRoundTrip is the baseline Translate is measured
// against: decoding the first-turn body into generic values and encoding it
// again, without any translation work.
func BenchmarkEncodingJSONRoundTrip(b *testing.B) {
	body, err := os.ReadFile("../../testdata/cc-2.1.332-print-first-turn.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidate measures the validation pass alone, the larger part of
// Translate.
func BenchmarkValidate(b *testing.B) {
	for _, f := range fixtures(b) {
		body, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "cc-2.1.332-"), ".json")
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			spans := make([]span, 0, 256)
			for b.Loop() {
				if _, err := validate(body, spans[:0], new([maxDepth]int32)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
