package sse

import (
	"bytes"
	"testing"
)

func BenchmarkReaderEvent(b *testing.B) {
	chunk := []byte(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hello there"},"finish_reason":null}]}` + "\n\n")
	wire := bytes.Repeat(chunk, 64)
	b.ReportAllocs()
	b.SetBytes(int64(len(chunk)))
	src := &repeatReader{b: wire}
	rd := NewReader(src, 1<<16)
	b.ResetTimer()
	for b.Loop() {
		if !rd.Next() {
			b.Fatal(rd.Err())
		}
	}
}

// repeatReader yields the same bytes forever without allocating.
type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.off:])
	r.off = (r.off + n) % len(r.b)
	return n, nil
}
