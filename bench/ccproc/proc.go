package ccproc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// DefaultHealthTimeout is how long Start waits for /health when
// Options.HealthTimeout is zero.
const DefaultHealthTimeout = 15 * time.Second

// stopGrace is how long Stop waits after SIGTERM before it kills.
const stopGrace = 5 * time.Second

// Options says how to start a ccproxy child.
type Options struct {
	// Bin is the ccproxy binary (see Build).
	Bin string
	// Dir is the working directory and HOME of the child, so that no
	// stray .env or config file is picked up.
	Dir string
	// LogPath receives the child's stdout and stderr; "" means
	// Dir/ccproxy.log.
	LogPath string
	// Env is appended to the child's environment, which otherwise holds
	// only PATH, HOME=Dir, HOST and PORT (a free 127.0.0.1 port).
	Env []string
	// HealthTimeout bounds the wait for GET /health to answer 200;
	// zero means DefaultHealthTimeout.
	HealthTimeout time.Duration
}

// Proc is a running ccproxy child process.
type Proc struct {
	// URL is the proxy's base URL, http://127.0.0.1:port.
	URL string
	// Addr is the proxy's listen address, 127.0.0.1:port.
	Addr string

	cmd     *exec.Cmd
	pid     int
	logPath string
	exited  chan struct{}
	exitErr error
}

// Start runs the child described by o and returns once GET /health
// answers 200. The child is killed if the calling process dies, if it
// does not become healthy within the timeout, or if ctx ends first; the
// returned errors carry the end of its log.
func Start(ctx context.Context, o Options) (*Proc, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	logPath := o.LogPath
	if logPath == "" {
		logPath = filepath.Join(o.Dir, "ccproxy.log")
	}
	timeout := o.HealthTimeout
	if timeout <= 0 {
		timeout = DefaultHealthTimeout
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.Bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + o.Dir, "HOST=" + host, "PORT=" + port}, o.Env...)
	cmd.Dir = o.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// The child dies with the harness even if the harness is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start ccproxy: %w", err)
	}
	p := &Proc{URL: "http://" + addr, Addr: addr, cmd: cmd, pid: cmd.Process.Pid, logPath: logPath, exited: make(chan struct{})}
	go func() { p.exitErr = cmd.Wait(); logf.Close(); close(p.exited) }()

	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		if resp, err := hc.Get(p.URL + "/health"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("ccproxy exited during start-up: %s", p.LogTail(3000))
		case <-ctx.Done():
			p.Kill()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Kill()
			return nil, fmt.Errorf("ccproxy not healthy after %v: %s", timeout, p.LogTail(3000))
		}
	}
}

// Pid returns the child's process id.
func (p *Proc) Pid() int { return p.pid }

// Done is closed once the child has exited.
func (p *Proc) Done() <-chan struct{} { return p.exited }

// ExitErr returns how the child exited (nil for status 0); it is only
// meaningful once Done is closed.
func (p *Proc) ExitErr() error {
	select {
	case <-p.exited:
		return p.exitErr
	default:
		return nil
	}
}

// Signal sends sig to the child.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// LogTail returns at most the last n bytes of the child's log, trimmed
// of surrounding white space.
func (p *Proc) LogTail(n int) string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}

// Stop sends SIGTERM, waits up to 5 s for the child to exit and then kills
// it. It returns once the child is gone; calling it again, or on a nil
// Proc, does nothing.
func (p *Proc) Stop() { p.end(stopGrace) }

// Kill ends the child at once and waits until it is gone. Calling it
// again, or on a nil Proc, does nothing.
func (p *Proc) Kill() { p.end(0) }

// end sends SIGTERM and waits up to grace (none when zero), then kills the
// child and waits until it is gone.
func (p *Proc) end(grace time.Duration) {
	if p == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	if grace > 0 {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
			return
		case <-time.After(grace):
		}
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}
