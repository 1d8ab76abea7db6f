//go:build !linux

package fakeupstream

import "syscall"

// deathSignal: outside Linux the child relies on its stdin reaching EOF.
func deathSignal() *syscall.SysProcAttr { return nil }
