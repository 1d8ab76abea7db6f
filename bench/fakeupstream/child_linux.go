package fakeupstream

import "syscall"

// deathSignal makes the kernel kill the child when the parent dies (the
// stdin EOF covers it too; this also covers a child that stopped reading).
func deathSignal() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
