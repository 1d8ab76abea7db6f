//go:build unix

package bufpool

import "golang.org/x/sys/unix"

// mapMem returns size bytes of fresh memory: an anonymous private mapping,
// or (if mapping fails) a heap slice. mapped reports which.
func mapMem(size int) (b []byte, mapped bool) {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return make([]byte, size), false
	}
	return b, true
}

// release gives a mapping's pages back to the operating system, keeping
// the mapping (it reads as zeros until written again). Should madvise fail,
// the pages merely stay resident.
func release(b []byte) { _ = unix.Madvise(b[:cap(b)], unix.MADV_DONTNEED) }
