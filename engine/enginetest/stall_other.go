//go:build !linux

package enginetest

import "testing"

// UnansweredAddr returns a 127.0.0.1 address whose connects hang. It needs
// Linux's behaviour of dropping SYNs for a listener whose accept queue is
// full; elsewhere it skips the test.
func UnansweredAddr(t *testing.T) string {
	t.Helper()
	t.Skip("an unanswered connect on 127.0.0.1 is only set up on Linux")
	return ""
}
