//go:build !race

package sse

import (
	"bytes"
	"testing"
)

func TestReaderZeroAllocsPerEvent(t *testing.T) {
	src := &repeatReader{b: []byte("event: x\r\ndata: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\r\ndata: more\r\n\r\n")}
	rd := NewReader(src, 1<<16)
	for range 100 { // warm the buffers up
		rd.Next()
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if !rd.Next() || !bytes.HasSuffix(rd.Data(), []byte("more")) {
			t.Fatal("bad event")
		}
	})
	if allocs != 0 {
		t.Fatalf("allocs per event = %v; want 0", allocs)
	}
}
