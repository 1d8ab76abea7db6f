//go:build linux

package enginetest

import (
	"errors"
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// fillerDialTimeout bounds each connection the suite makes to fill a
// listener's accept queue; a dial that runs into it shows the queue full.
const fillerDialTimeout = 300 * time.Millisecond

// maxFillers bounds the connections made to fill the accept queue.
const maxFillers = 16

// UnansweredAddr returns a 127.0.0.1 address whose SYNs are never answered:
// a listening socket with a backlog of 0 that never accepts, its accept
// queue filled by connections of the suite's own. Linux drops a SYN for a
// listener whose accept queue is full, so a connect to it hangs (the client
// retransmits its SYN) until the dialer gives up. Everything is closed by
// t.Cleanup. Engines use it in tests of their own dial.
func UnansweredAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	f := os.NewFile(uintptr(fd), "stalled listener")
	t.Cleanup(func() { _ = f.Close() })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatalf("listen: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	for range maxFillers {
		c, err := net.DialTimeout("tcp", addr, fillerDialTimeout)
		if err == nil {
			t.Cleanup(func() { _ = c.Close() })
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return addr // the queue is full: this SYN went unanswered
		}
		t.Fatalf("filling the accept queue of %s: %v", addr, err)
	}
	t.Skipf("the accept queue of %s did not fill after %d connections", addr, maxFillers)
	return ""
}
