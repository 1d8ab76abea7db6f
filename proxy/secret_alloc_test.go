//go:build !race

package proxy

import "testing"

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
