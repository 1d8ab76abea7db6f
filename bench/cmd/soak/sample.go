package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// moduleRoot walks up from the working directory to the directory holding
// go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// buildProxy builds ./cmd/ccproxy into dir.
func buildProxy(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "ccproxy")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ccproxy")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/ccproxy: %w\n%s", err, out)
	}
	return bin, nil
}

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// child is the ccproxy process under test.
type child struct {
	cmd     *exec.Cmd
	URL     string
	Addr    string
	logPath string
	exited  chan struct{}
	exitErr error
}

// startChild runs bin in dir with a clean environment (env plus PATH,
// HOME, HOST, PORT) and waits for /health.
func startChild(bin, dir string, env []string) (*child, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	c := &child{URL: "http://" + addr, Addr: addr, logPath: filepath.Join(dir, "ccproxy.log"), exited: make(chan struct{})}
	logf, err := os.Create(c.logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "HOST=" + host, "PORT=" + port}, env...)
	cmd.Dir = dir // no stray .env file
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start ccproxy: %w", err)
	}
	c.cmd = cmd
	go func() { c.exitErr = cmd.Wait(); logf.Close(); close(c.exited) }()

	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := hc.Get(c.URL + "/health"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		select {
		case <-c.exited:
			return nil, fmt.Errorf("ccproxy exited during start-up: %s", c.logTail())
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.kill()
			return nil, fmt.Errorf("ccproxy not healthy after 20 s: %s", c.logTail())
		}
	}
}

// logTail returns the end of the child's log.
func (c *child) logTail() string {
	b, _ := os.ReadFile(c.logPath)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(bytes.TrimSpace(b))
}

// kill ends the child at once (error paths).
func (c *child) kill() {
	_ = c.cmd.Process.Kill()
	<-c.exited
}

// sample is one observation of the child.
type sample struct {
	At         time.Duration
	Goroutines int
	RSS        int64 // bytes
	HeapInuse  int64 // bytes
}

// sample reads go_goroutines and go_memstats_heap_inuse_bytes from
// /metrics and VmRSS from /proc.
func (c *child) sample(hc *http.Client) (sample, error) {
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
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				s.RSS = kb << 10
			}
		}
	}
	return s, nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
