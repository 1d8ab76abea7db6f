package fakeupstream

import "syscall"

// deathSignal makes the kernel kill the child when the parent's thread
// that started it exits, which for Go is the parent's death unless that
// thread was locked (runtime.LockOSThread) and ended (the stdin EOF covers
// the parent's death too; this also covers a child that stopped reading).
func deathSignal() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
