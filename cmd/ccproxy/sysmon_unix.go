//go:build unix

package main

import (
	"os"
	"strings"
	"syscall"
)

// sysmonSetting keeps the Go runtime's system monitor (sysmon) out of its
// deep sleep. When every P of a Go process is idle, sysmon sleeps until a
// timer is due or a goroutine enters a system call; that system call then
// wakes it (a futex wake-up on the request's own path) and sysmon starts
// over at its shortest period, 20 µs, for at least a millisecond. A proxy
// idles between the reads and writes of every request, so at low
// concurrency each request paid several such wake-ups and dozens of sysmon
// cycles, which on a virtual machine cost as much as the request's own
// work. With schedtrace set, sysmon never deep-sleeps: it backs off to its
// 10 ms period and stays there (about 100 wake-ups a second when idle).
// The setting's own trace line is due every 2^31-1 ms (24.8 days), and
// once at start-up on a host up for longer than that.
const sysmonSetting = "schedtrace=2147483647"

// quietSysmon re-executes ccproxy with sysmonSetting added to GODEBUG (the
// runtime reads it only at start-up), unless GODEBUG already sets
// schedtrace: GODEBUG=schedtrace=0 keeps Go's default behaviour. It
// returns only when ccproxy runs with the setting already, was told not
// to, or cannot re-execute itself (it then runs as it is).
func quietSysmon() {
	godebug, _ := os.LookupEnv("GODEBUG")
	for _, kv := range strings.Split(godebug, ",") {
		if strings.HasPrefix(strings.TrimSpace(kv), "schedtrace=") {
			return
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	if godebug != "" {
		godebug += ","
	}
	env := []string{"GODEBUG=" + godebug + sysmonSetting}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") { // the runtime reads the first
			env = append(env, kv)
		}
	}
	_ = syscall.Exec(exe, os.Args, env)
}
