//go:build !unix

package proxy

import "net"

// peerClosed cannot tell on this platform: a request that waited in a
// queue is sent even if its client left meanwhile (see ConnContext).
func peerClosed(net.Conn) bool { return false }
