package main

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// cpuAccount is a reading of where the machine's CPU time has gone, in
// clock ticks since boot: the machine's busy and stolen time, all of it
// (busy, idle and stolen), and this process's own (its children's once
// they have been waited for).
type cpuAccount struct {
	busy, steal, total, self uint64
}

// readCPUAccount reads /proc/stat and /proc/self/stat.
func readCPUAccount() (cpuAccount, error) {
	st, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuAccount{}, err
	}
	self, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return cpuAccount{}, err
	}
	return parseCPUAccount(string(st), string(self))
}

// parseCPUAccount reads the aggregate "cpu" line of /proc/stat (user nice
// system idle iowait irq softirq steal ...; guest time is already in user)
// and utime stime cutime cstime (fields 14-17) of /proc/<pid>/stat.
func parseCPUAccount(stat, self string) (cpuAccount, error) {
	var a cpuAccount
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return a, errors.New("/proc/stat: no aggregate cpu line")
	}
	var v [8]uint64
	for i := range v {
		n, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return a, errors.New("/proc/stat: " + err.Error())
		}
		v[i] = n
	}
	a.busy = v[0] + v[1] + v[2] + v[5] + v[6]
	a.steal = v[7]
	a.total = a.busy + v[3] + v[4] + a.steal
	// The command name (field 2) may hold spaces: count from its ')'.
	i := strings.LastIndexByte(self, ')')
	if i < 0 {
		return a, errors.New("/proc/self/stat: no command name")
	}
	g := strings.Fields(self[i+1:]) // g[0] is field 3 (state)
	if len(g) < 15 {
		return a, errors.New("/proc/self/stat: too few fields")
	}
	for _, s := range g[11:15] { // fields 14-17
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return a, errors.New("/proc/self/stat: " + err.Error())
		}
		a.self += n
	}
	return a, nil
}

// otherWork returns the share of the machine's CPU (0-1) that went, between
// the readings a and b, to processes outside this one and the children it
// has waited for, and the share the hypervisor stole. b must be read after
// every child has been waited for, or their time counts as other work.
func otherWork(a, b cpuAccount) (other, steal float64, ok bool) {
	if b.total <= a.total || b.self < a.self || b.busy < a.busy {
		return 0, 0, false
	}
	total := float64(b.total - a.total)
	o := float64(b.busy-a.busy) - float64(b.self-a.self)
	return max(o, 0) / total, float64(b.steal-a.steal) / total, true
}
