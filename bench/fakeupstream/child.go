package fakeupstream

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Ready is the line, one JSON object, that the fakeupstream command
// (bench/cmd/fakeupstream) prints on stdout once it is listening: how a
// parent process learns that it is up and where.
type Ready struct {
	// Event is always "ready".
	Event string `json:"event"`
	// URL is the base URL without /v1, as Server.URL.
	URL string `json:"url"`
	// Addr is the listen address (host:port).
	Addr string `json:"addr"`
	// Protocol is h1, h2c or tls.
	Protocol Protocol `json:"protocol"`
	// CAFile is where the CA certificate was written (tls only).
	CAFile string `json:"ca_file,omitempty"`
	// Pid is the command's process id.
	Pid int `json:"pid"`
}

// ReadyEvent is Ready.Event.
const ReadyEvent = "ready"

// Spawn timing.
const (
	// spawnTimeout bounds the wait for the child's ready line.
	spawnTimeout = 15 * time.Second
	// closeGrace is how long Close waits for the child to exit after
	// closing its stdin, and again after SIGTERM, before it kills it.
	closeGrace = 3 * time.Second
	// controlTimeout bounds each control request.
	controlTimeout = 10 * time.Second
	// stderrTail is how much of the child's stderr is kept for errors.
	stderrTail = 8 << 10
)

// Child is a fake upstream running as its own process (the fakeupstream
// command, started by Spawn with -control), driven through the control
// endpoints (ControlPrefix). Its methods are safe for concurrent use.
type Child struct {
	ready  Ready
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	ca     []byte
	tmp    string // holds the CA file
	hc     *http.Client
	optsMu sync.Mutex // serialises SetOptions' read-modify-write

	stderr   tailBuffer
	exited   chan struct{}
	exitErr  error
	closeOne sync.Once
}

// Spawn runs bin, the fakeupstream command (go build ./bench/cmd/fakeupstream),
// as a child process serving o (o.Logger and o.Control are ignored: the
// child logs to its stderr, kept for Close's and Spawn's errors, and always
// serves the control endpoints), and returns once it has printed its ready
// line. The child exits when its stdin reaches EOF, so it does not outlive
// this process even if this one is killed; on Linux it is also sent
// SIGKILL when the thread that started it exits (Pdeathsig: in Go, when
// this process dies, unless Spawn ran on a goroutine locked to its thread
// that then ended). The caller must Close it; a child that exits on its
// own closes Done, with ExitErr and LogTail saying why.
func Spawn(bin string, o Options) (*Child, error) {
	o.normalize()
	if err := o.validate(); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "fakeupstream-")
	if err != nil {
		return nil, fmt.Errorf("fakeupstream: spawn: %w", err)
	}
	args := []string{
		"-proto", string(o.Protocol), "-addr", o.Addr, "-control", "-exit-on-eof",
		"-chunks", strconv.Itoa(o.Chunks), "-reply-bytes", strconv.Itoa(o.ReplyBytes),
		"-header-delay", o.HeaderDelay.String(), "-first-chunk-delay", o.FirstChunkDelay.String(),
		"-chunk-interval", o.ChunkInterval.String(), "-compression", o.Compression,
		"-reasoning=" + strconv.FormatBool(o.Reasoning), "-text-only=" + strconv.FormatBool(o.TextOnly),
		"-ca-file", filepath.Join(tmp, "ca.pem"),
	}
	c := &Child{tmp: tmp, exited: make(chan struct{})}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Stderr = &c.stderr
	c.cmd.SysProcAttr = deathSignal()
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("fakeupstream: spawn: %w", err)
	}
	// An os.Pipe of our own, not StdoutPipe: Wait closes StdoutPipe's
	// reader when the child exits, possibly before its last line was read.
	stdout, stdoutW, err := os.Pipe()
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("fakeupstream: spawn: %w", err)
	}
	c.cmd.Stdout = stdoutW
	err = c.cmd.Start()
	stdoutW.Close() // the child holds its own copy
	if err != nil {
		stdout.Close()
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("fakeupstream: spawn %s: %w", bin, err)
	}
	readyc := make(chan Ready, 1)
	go c.readStdout(stdout, readyc)
	go func() { c.exitErr = c.cmd.Wait(); close(c.exited) }()

	t := time.NewTimer(spawnTimeout)
	defer t.Stop()
	select {
	case c.ready = <-readyc:
	case <-c.exited:
		c.Close()
		return nil, fmt.Errorf("fakeupstream: child exited before it was ready (%v): %s", c.exitErr, c.LogTail())
	case <-t.C:
		c.Close()
		return nil, fmt.Errorf("fakeupstream: child not ready after %v: %s", spawnTimeout, c.LogTail())
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute, DisableCompression: true}
	if c.ready.Protocol == TLS {
		if c.ca, err = os.ReadFile(c.ready.CAFile); err != nil {
			c.Close()
			return nil, fmt.Errorf("fakeupstream: read the child's CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(c.ca) {
			c.Close()
			return nil, errors.New("fakeupstream: the child's CA file holds no certificate")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c.hc = &http.Client{Transport: tr, Timeout: controlTimeout}
	return c, nil
}

// readStdout hands the ready line to readyc, then discards the rest of the
// child's stdout.
func (c *Child) readStdout(r io.ReadCloser, readyc chan<- Ready) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var rd Ready
		if json.Unmarshal(sc.Bytes(), &rd) == nil && rd.Event == ReadyEvent && rd.URL != "" {
			readyc <- rd
			break
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// URL returns the base URL without /v1 (http://127.0.0.1:port, or https for
// TLS).
func (c *Child) URL() string { return c.ready.URL }

// Addr returns the child's listen address (host:port).
func (c *Child) Addr() string { return c.ready.Addr }

// Protocol returns the protocol the child speaks.
func (c *Child) Protocol() Protocol { return c.ready.Protocol }

// Pid returns the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// CAPEM returns the PEM of the child's CA certificate, or nil unless it
// speaks TLS.
func (c *Child) CAPEM() []byte {
	if c.ca == nil {
		return nil
	}
	return bytes.Clone(c.ca)
}

// Done is closed once the child process has exited.
func (c *Child) Done() <-chan struct{} { return c.exited }

// ExitErr returns how the child exited (nil for status 0, or while it
// runs): exec's *ExitError, "signal: killed" for one that was killed.
func (c *Child) ExitErr() error {
	select {
	case <-c.exited:
		return c.exitErr
	default:
		return nil
	}
}

// LogTail returns the end of the child's stderr.
func (c *Child) LogTail() string { return string(bytes.TrimSpace(c.stderr.Bytes())) }

// Options returns the child's current options (the run-time-mutable
// fields, with Protocol and Addr).
func (c *Child) Options() (Options, error) {
	var co ControlOptions
	if err := c.control(http.MethodGet, "options", nil, &co); err != nil {
		return Options{}, err
	}
	o := Options{Protocol: c.ready.Protocol, Addr: c.ready.Addr, Control: true}
	co.apply(&o)
	return o, nil
}

// SetOptions changes the child's behaviour as Server.SetOptions does: fn
// edits a copy of its current options, which then applies to requests that
// start afterwards; changes to Protocol, Addr and Control are ignored. It
// returns once the child has applied them, or the child's refusal.
func (c *Child) SetOptions(fn func(*Options)) error {
	c.optsMu.Lock()
	defer c.optsMu.Unlock()
	o, err := c.Options()
	if err != nil {
		return err
	}
	fn(&o)
	return c.control(http.MethodPost, "options", controlOptions(o), nil)
}

// Stats returns a snapshot of the child's counters.
func (c *Child) Stats() (Stats, error) {
	var st Stats
	err := c.control(http.MethodGet, "stats", nil, &st)
	return st, err
}

// LastRequest returns the last request the child received (zero if none).
func (c *Child) LastRequest() (Recorded, error) {
	var rec Recorded
	err := c.control(http.MethodGet, "last-request", nil, &rec)
	var se *statusError
	if errors.As(err, &se) && se.status == http.StatusNotFound {
		return Recorded{}, nil
	}
	return rec, err
}

// statusError is a control request answered with a non-200 status.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("fakeupstream: control: status %d: %s", e.status, e.msg)
}

// control sends one control request (in, when not nil, as its JSON body)
// and decodes the JSON answer into out (when not nil).
func (c *Child) control(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("fakeupstream: control %s: %w", path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.ready.URL+ControlPrefix+path, body)
	if err != nil {
		return fmt.Errorf("fakeupstream: control %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("fakeupstream: control %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("fakeupstream: control %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var ce controlError
		_ = json.Unmarshal(b, &ce)
		return &statusError{status: resp.StatusCode, msg: ce.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("fakeupstream: control %s: decode: %w", path, err)
	}
	return nil
}

// Close ends the child: it closes its stdin (the child exits on EOF),
// sends SIGTERM if it is still running after a grace period, then kills
// it, and returns once it is gone. Calling it again does nothing.
func (c *Child) Close() {
	c.closeOne.Do(func() {
		if c.hc != nil {
			c.hc.CloseIdleConnections()
		}
		_ = c.stdin.Close()
		if !c.waitExit(closeGrace) {
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
			if !c.waitExit(closeGrace) {
				_ = c.cmd.Process.Kill()
				<-c.exited
			}
		}
		os.RemoveAll(c.tmp)
	})
}

// waitExit waits up to d for the child to exit and reports whether it did.
func (c *Child) waitExit(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.exited:
		return true
	case <-t.C:
		return false
	}
}

// tailBuffer keeps the last stderrTail bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - stderrTail; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// Bytes returns a copy of what is kept.
func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Clone(t.buf)
}
