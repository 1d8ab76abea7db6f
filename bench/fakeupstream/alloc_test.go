//go:build !race

package fakeupstream

import "testing"

// TestHandlerAllocs pins how little the handler allocates per request once
// its reply cache and buffer pools are warm (the 50 KB Claude Code turn).
func TestHandlerAllocs(t *testing.T) {
	s, _ := start(t, Options{})
	for _, tc := range []struct {
		name   string
		stream bool
		max    float64
	}{
		// the one allocation left is gjson unescaping the last user text
		// part (two with the system reminder before it), which the echo needs
		{"stream", true, 2},
		{"unary", false, 2},
	} {
		rg := newRig(t, s, claudeCodeBody(t, tc.stream))
		rg.serve()
		if rg.w.status != 200 || rg.w.n == 0 {
			t.Fatalf("%s: status %d, %d bytes", tc.name, rg.w.status, rg.w.n)
		}
		if n := testing.AllocsPerRun(200, rg.serve); n > tc.max {
			t.Errorf("%s: %.1f allocs per request, want <= %.0f", tc.name, n, tc.max)
		}
	}
}
