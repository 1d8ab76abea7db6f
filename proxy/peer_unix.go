//go:build unix && !aix

package proxy

import (
	"errors"
	"net"
	"syscall"
)

// peerClosed reports whether the next thing to read from c is its end or a
// reset, without reading anything: a non-blocking MSG_PEEK of one byte.
// It runs through Control, not Read, so that it does not wait for the read
// net/http may have started on c meanwhile (that read does not consume an
// end: a peek after it still sees the end).
func peerClosed(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	_ = raw.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = (n == 0 && err == nil) || errors.Is(err, syscall.ECONNRESET)
	})
	return closed
}
