//go:build linux

package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestSysmonSetting: ccproxy re-executes itself in place (same process)
// with schedtrace added to GODEBUG, keeping the user's other settings, and
// leaves a GODEBUG that sets schedtrace itself as it is.
func TestSysmonSetting(t *testing.T) {
	bin := buildBinary(t, "")
	for _, c := range []struct{ env, want string }{
		{"", sysmonSetting},
		{"GODEBUG=madvdontneed=1", "madvdontneed=1," + sysmonSetting},
		{"GODEBUG=schedtrace=0", "schedtrace=0"},
		{"GODEBUG=gctrace=0, schedtrace=0", "gctrace=0, schedtrace=0"},
	} {
		t.Run(c.env, func(t *testing.T) {
			var env []string
			if c.env != "" {
				env = append(env, c.env)
			}
			srv := startServer(t, bin, env...) // answers /health: the exec went through
			raw, err := os.ReadFile("/proc/" + strconv.Itoa(srv.cmd.Process.Pid) + "/environ")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, kv := range strings.Split(string(raw), "\x00") {
				if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
					got = append(got, v)
				}
			}
			if len(got) != 1 || got[0] != c.want {
				t.Fatalf("GODEBUG of the running ccproxy (pid %d) = %q; want exactly [%q]", srv.cmd.Process.Pid, got, c.want)
			}
		})
	}
}
