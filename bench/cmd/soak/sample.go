package main

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ccproxy/ccproxy/bench/ccproc"
)

// sample is one observation of the child.
type sample struct {
	At         time.Duration
	Goroutines int
	RSS        int64 // bytes
	HeapInuse  int64 // bytes
}

// takeSample reads go_goroutines and go_memstats_heap_inuse_bytes from the
// child's /metrics and VmRSS from /proc.
func takeSample(c *ccproc.Proc, hc *http.Client) (sample, error) {
	var s sample
	resp, err := hc.Get(c.URL + "/metrics")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("GET /metrics: status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	found := 0
	for sc.Scan() {
		line := sc.Text()
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		switch name {
		case "go_goroutines":
			f, _ := strconv.ParseFloat(val, 64)
			s.Goroutines = int(f)
			found++
		case "go_memstats_heap_inuse_bytes":
			f, _ := strconv.ParseFloat(val, 64)
			s.HeapInuse = int64(f)
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if found == 0 {
		return s, errors.New("no go_goroutines in /metrics")
	}
	if s.RSS, _, err = c.Memory(); err != nil {
		return s, err
	}
	return s, nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
