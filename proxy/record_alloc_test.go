//go:build !race

package proxy

import (
	"net/http"
	"testing"
	"time"
)

// TestFinishAllocs: metrics and the request log line allocate (almost)
// nothing per request.
func TestFinishAllocs(t *testing.T) {
	h, rs := finishRig(t)
	h.finish(rs) // first sight of a label set
	if n := testing.AllocsPerRun(200, func() { h.finish(rs) }); n > 2 {
		t.Fatalf("finish allocates %.1f times per request, want <= 2", n)
	}
}

// TestSetOverhead: the two per-response figures read the same duration,
// each header holds one value, and both cost two allocations together.
func TestSetOverhead(t *testing.T) {
	hd := http.Header{}
	setOverhead(hd, 1234567*time.Nanosecond)
	if got := hd.Values("X-Ccproxy-Overhead-Us"); len(got) != 1 || got[0] != "1234" {
		t.Fatalf("X-Ccproxy-Overhead-Us %q", got)
	}
	if got := hd.Values("Server-Timing"); len(got) != 1 || got[0] != `ccproxy;desc="proxy overhead";dur=1.235` {
		t.Fatalf("Server-Timing %q", got)
	}
	hd.Add("Server-Timing", "upstream;dur=3") // an append must not reach the other header
	if got := hd.Values("X-Ccproxy-Overhead-Us"); len(got) != 1 {
		t.Fatalf("appending to Server-Timing changed X-Ccproxy-Overhead-Us: %q", got)
	}
	if n := testing.AllocsPerRun(200, func() { setOverhead(hd, time.Millisecond) }); n > 2 {
		t.Fatalf("setOverhead: %v allocations, want ≤ 2", n)
	}
}
