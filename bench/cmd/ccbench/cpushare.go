package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/google/pprof/profile"
)

// cpuCategories are where a CPU profile's samples are attributed, in the
// order the report lists them.
var cpuCategories = []string{"system calls", "Go runtime", "net/http", "fasthttp library", "ccproxy", "other"}

// cpuShares reads the CPU profile at path and returns the share (0-1) of
// its CPU time in each of cpuCategories. A sample counts for the first of
// its frames, from the leaf up, that belongs to a category: a system call
// is the kernel's time; the runtime is the scheduler, the garbage collector,
// the allocator and locks; library code (bufio, bytes, context, gjson, ...)
// counts for whoever called it.
func cpuShares(path string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, err
	}
	vi := len(p.SampleType) - 1 // cpu nanoseconds
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			vi = i
		}
	}
	sums := make(map[string]float64, len(cpuCategories))
	total := 0.0
	for _, s := range p.Sample {
		v := float64(s.Value[vi])
		total += v
		sums[sampleCategory(s)] += v
	}
	if total == 0 {
		return nil, fmt.Errorf("%s: no samples", path)
	}
	for k := range sums {
		sums[k] /= total
	}
	return sums, nil
}

// sampleCategory attributes one sample (see cpuShares).
func sampleCategory(s *profile.Sample) string {
	for _, loc := range s.Location {
		// Lines run from the innermost inlined function outwards.
		for _, ln := range loc.Line {
			if ln.Function == nil {
				continue
			}
			if c := funcCategory(ln.Function.Name); c != "" {
				return c
			}
		}
	}
	return "other"
}

// funcCategory returns the category of a function by name, or "" for
// library code whose time belongs to its caller.
func funcCategory(name string) string {
	switch {
	case isSyscall(name):
		return "system calls"
	case hasAnyPrefix(name, "runtime.", "internal/runtime/", "gcWriteBarrier", "sync.", "internal/sync.",
		"sync/atomic.", "internal/poll.runtime_", "internal/chacha8rand.", "time.runtimeNow", "time.now"):
		if isHelper(name) {
			return ""
		}
		return "Go runtime"
	case hasAnyPrefix(name, "net/http.", "net/textproto.", "vendor/golang.org/x/net/", "golang.org/x/net/"):
		return "net/http"
	case strings.HasPrefix(name, "github.com/valyala/"):
		return "fasthttp library"
	case strings.HasPrefix(name, "github.com/ccproxy/ccproxy/"):
		return "ccproxy"
	}
	return ""
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func isSyscall(name string) bool {
	switch name {
	case "runtime.futex", "runtime.usleep", "runtime.osyield", "runtime.madvise", "runtime.mmap", "runtime.munmap",
		"runtime.epollwait", "runtime.write1", "runtime.read", "runtime.tgkill", "runtime.rtsigprocmask":
		return true
	}
	return strings.HasPrefix(name, "syscall.") || strings.HasPrefix(name, "internal/runtime/syscall/")
}

// isHelper reports the runtime's copy, compare and hash routines, which
// run on behalf of whichever code called them.
func isHelper(name string) bool {
	switch name {
	case "runtime.memmove", "runtime.memclrNoHeapPointers", "runtime.memequal", "runtime.cmpstring",
		"runtime.memhash", "runtime.strhash", "runtime.aeshashbody":
		return true
	}
	return false
}

// cpuSharesNote formats shares for the report: "system calls 47%, ...".
func cpuSharesNote(shares map[string]float64) string {
	parts := make([]string, 0, len(cpuCategories))
	for _, c := range cpuCategories {
		if v := shares[c]; v >= 0.005 {
			parts = append(parts, fmt.Sprintf("%s %.0f%%", c, 100*v))
		}
	}
	return strings.Join(parts, ", ")
}
