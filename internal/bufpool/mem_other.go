//go:build !unix

package bufpool

// mapMem returns size bytes from the heap: without mmap, the pool only
// bounds how many idle buffers it keeps, and the collector frees the rest.
func mapMem(size int) (b []byte, mapped bool) { return make([]byte, size), false }

// release is never called for heap slices.
func release([]byte) {}
