//go:build !race

package proxy

import "testing"

// TestFinishAllocs: metrics and the request log line allocate (almost)
// nothing per request.
func TestFinishAllocs(t *testing.T) {
	h, rs := finishRig(t)
	h.finish(rs) // first sight of a label set
	if n := testing.AllocsPerRun(200, func() { h.finish(rs) }); n > 2 {
		t.Fatalf("finish allocates %.1f times per request, want <= 2", n)
	}
}
