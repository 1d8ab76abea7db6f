//go:build !race

package proxy

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestScrubCleanAllocs: scrubbing an error body that does not hold the key
// allocates nothing (and nor does a Handler without a key).
func TestScrubCleanAllocs(t *testing.T) {
	s := newSecret(echoKey)
	body := []byte(`{"error":{"message":"Rate limit reached for gpt-4.1 in organization org-abc on tokens per min","type":"tokens","code":"rate_limit_exceeded"}}`)
	msg := string(body)
	if n := testing.AllocsPerRun(100, func() { s.scrub(body); s.scrubString(msg) }); n != 0 {
		t.Fatalf("scrubbing clean text: %v allocs, want 0", n)
	}
}

func BenchmarkScrubCleanErrorBody(b *testing.B) {
	s := newSecret(echoKey)
	body := []byte(`{"error":{"message":"Rate limit reached for gpt-4.1 in organization org-abc on tokens per min. Limit 30000, Used 29000, Requested 2000. Please try again in 2s.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`)
	b.ReportAllocs()
	for b.Loop() {
		s.scrub(body)
	}
}

// BenchmarkScrubEscapedErrorBody is the worst case scrub meets: a 64 KiB
// error body that is nothing but escapes, JSON quoted inside JSON three
// layers deep. Its cost is linear in the body's size.
func BenchmarkScrubEscapedErrorBody(b *testing.B) {
	s := newSecret(echoKey)
	v := strings.Repeat(`x\"`, 1000) + echoKey
	for range 4 {
		q, _ := json.Marshal(v)
		v = string(q)
	}
	body := []byte(v[:min(len(v), maxErrorBody)])
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		s.scrub(body)
	}
}
