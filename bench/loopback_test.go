package bench_test

import (
	"io"
	"net"
	"strconv"
	"testing"
)

// BenchmarkLoopbackWrite is what one write on a loopback TCP connection
// costs the writer: on Linux the sender's write runs the receiver's TCP
// input path too, so this is the price of each write a proxy makes
// towards its client or upstream (each batch of events, each request),
// whatever the size:
//
//	go test -run '^$' -bench LoopbackWrite -benchmem ./bench
//
// A reader goroutine drains the connection (on the other core, when one
// is free; its reads are not in the writer's time then).
func BenchmarkLoopbackWrite(b *testing.B) {
	for _, size := range []int{64, 1 << 10, 16 << 10, 55 << 10} {
		b.Run(strconv.Itoa(size)+"B", func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			done := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					done <- err
					return
				}
				defer c.Close()
				_, err = io.Copy(io.Discard, c)
				done <- err
			}()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			p := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.Write(p); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			c.Close()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
