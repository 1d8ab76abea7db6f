//go:build !unix || aix

package proxy

import "net"

// peerClosed cannot tell on this platform (AIX's syscall package has no
// MSG_DONTWAIT): a request that waited in a queue is sent even if its
// client left meanwhile (see ConnContext).
func peerClosed(net.Conn) bool { return false }
