//go:build !race

package toanthropic

import "testing"

// TestAllocsPerChunk proves the hot path budget: no allocation per upstream
// chunk for text, reasoning and tool-argument chunks once dst has capacity
// (the chunk reader works on a view of the chunk and reuses its buffers).
func TestAllocsPerChunk(t *testing.T) {
	for _, c := range benchChunks {
		t.Run(c.name, func(t *testing.T) {
			s := NewStream(Config{Model: "m", MessageID: "msg_x", Thinking: true})
			dst := s.Start(make([]byte, 0, 4096))
			var err error
			for _, p := range c.prime {
				dst, err = s.Event(dst[:0], []byte(p))
				if err != nil {
					t.Fatal(err)
				}
			}
			chunk := []byte(c.chunk)
			allocs := testing.AllocsPerRun(200, func() {
				dst, err = s.Event(dst[:0], chunk)
				if err != nil || len(dst) == 0 {
					t.Fatalf("err %v, %d bytes", err, len(dst))
				}
			})
			if allocs != 0 {
				t.Fatalf("%v allocs per %s chunk; want 0", allocs, c.name)
			}
			t.Logf("%s: %v allocs/chunk", c.name, allocs)
		})
	}
}
