package bufpool

import (
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident counts b's pages in memory (mincore).
func resident(t *testing.T, h *[]byte) int {
	t.Helper()
	b := (*h)[:cap(*h)]
	vec := make([]byte, (len(b)+unix.Getpagesize()-1)/unix.Getpagesize())
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// TestReleaseReturnsPages is the point of the package: a trimmed buffer's
// pages leave the process's resident memory, a kept one's stay.
func TestReleaseReturnsPages(t *testing.T) {
	p := New(1, time.Hour, 0)
	defer p.Close()
	old, kept := p.Get(256<<10), p.Get(256<<10)
	for _, h := range []*[]byte{old, kept} {
		b := (*h)[:cap(*h)]
		for i := range b {
			b[i] = 1
		}
	}
	pages := (256 << 10) / unix.Getpagesize()
	if r := resident(t, old); r != pages {
		t.Fatalf("written buffer has %d of %d pages resident", r, pages)
	}
	p.Put(old)
	p.Put(kept)
	p.Trim(time.Since(p.epoch) + time.Second)
	if r := resident(t, old); r != 0 {
		t.Fatalf("released buffer still has %d pages resident", r)
	}
	if r := resident(t, kept); r != pages {
		t.Fatalf("kept buffer has %d of %d pages resident", r, pages)
	}
}

// BenchmarkReleaseRefault is what releasing an idle 64 KiB buffer costs
// when it is needed again: madvise, then a page fault for each 4 KiB page
// written (on a virtual machine the faults dominate). It is why only
// buffers idle for a while are released.
func BenchmarkReleaseRefault(b *testing.B) {
	p := New(0, time.Hour, 0)
	defer p.Close()
	for b.Loop() {
		h := p.Get(1)
		m := (*h)[:cap(*h)]
		for i := 0; i < len(m); i += unix.Getpagesize() {
			m[i] = 1
		}
		p.Put(h)
		p.Trim(time.Since(p.epoch) + time.Second)
	}
}
