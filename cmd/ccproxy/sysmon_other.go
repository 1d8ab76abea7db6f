//go:build !unix

package main

// quietSysmon does nothing where ccproxy cannot re-execute itself (see
// sysmon_unix.go).
func quietSysmon() {}
