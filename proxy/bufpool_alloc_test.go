//go:build !race

package proxy

import (
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/internal/bufpool"
)

// bufHandler is a Handler with only what getBuf and putBuf use.
func bufHandler() *Handler {
	return &Handler{large: bufpool.New(largeKeep, time.Hour, 0), cfg: Config{MaxRequestBytes: 32 << 20}}
}

// TestGetBufAllocs: a Claude Code turn's body, its translation, a unary
// answer of unknown length and a stream's event batch take their buffers
// without allocating once the pools are warm.
func TestGetBufAllocs(t *testing.T) {
	h := bufHandler()
	defer h.large.Close()
	for _, n := range []int64{55 << 10, -1, 0, 300 << 10} {
		h.putBuf(h.getBuf(n), nil) // warm
		if a := testing.AllocsPerRun(200, func() {
			b := h.getBuf(n)
			h.putBuf(b, (*b)[:0])
		}); a != 0 {
			t.Errorf("getBuf(%d)+putBuf: %v allocations, want 0", n, a)
		}
	}
}

func BenchmarkGetPutBuf(b *testing.B) {
	h := bufHandler()
	defer h.large.Close()
	b.ReportAllocs()
	for b.Loop() {
		in := h.getBuf(55 << 10)
		out := h.getBuf(55 << 10)
		h.putBuf(in, *in)
		h.putBuf(out, *out)
	}
}
