package main

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer collects a child process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// buildBinary compiles ccproxy with the given tags into a temp dir.
func buildBinary(t *testing.T, tags string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a binary")
	}
	out := filepath.Join(t.TempDir(), "ccproxy")
	cmd := exec.Command("go", "build", "-tags", tags, "-o", out, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build -tags %q: %v", tags, err)
	}
	return out
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// cleanEnv is the environment minus anything that would change ccproxy's
// behaviour in these tests.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "OPENAI_API_KEY", "OPENAI_BASE_URL", "ENGINE", "HOST", "PORT", "PROXY_API_KEY", "HTTPS_PROXY", "HTTP_PROXY":
			continue
		}
		env = append(env, kv)
	}
	return append(env, append([]string{"ENV_FILE=/nonexistent/.env", "LOG_FORMAT=json"}, extra...)...)
}

func TestBogusEngineExits(t *testing.T) {
	bin := buildBinary(t, "")
	cmd := exec.Command(bin)
	cmd.Env = cleanEnv("ENGINE=bogus", "PORT="+freePort(t))
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("want a non-zero exit, got %v: %s", err, out)
	}
	if !strings.Contains(string(out), "bogus") || !strings.Contains(string(out), "fasthttp") || !strings.Contains(string(out), "nethttp") {
		t.Fatalf("message should name the engines built in: %s", out)
	}
}

func TestNoFasthttpBinary(t *testing.T) {
	bin := buildBinary(t, "nofasthttp")
	mods, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(mods, []byte("valyala/fasthttp")) {
		t.Fatalf("-tags nofasthttp binary links fasthttp:\n%s", mods)
	}
	cmd := exec.Command(bin)
	cmd.Env = cleanEnv("ENGINE=fasthttp", "PORT="+freePort(t))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "[nethttp]") {
		t.Fatalf("want failure listing [nethttp]: %v %s", err, out)
	}
}

// server is a ccproxy binary started by startServer.
type server struct {
	cmd  *exec.Cmd
	base string      // http://127.0.0.1:PORT
	logs *syncBuffer // its stderr
	done chan struct{}
	err  error // how it exited, once done is closed
}

// startServer runs bin with a clean environment plus env (PORT is chosen
// here) and returns once /health answers. The process is killed at the
// end of the test unless it has exited.
func startServer(t *testing.T, bin string, env ...string) *server {
	t.Helper()
	port := freePort(t)
	s := &server{cmd: exec.Command(bin), base: "http://127.0.0.1:" + port, logs: new(syncBuffer), done: make(chan struct{})}
	s.cmd.Env = cleanEnv(append([]string{"PORT=" + port}, env...)...)
	s.cmd.Stderr = s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { _ = s.cmd.Process.Kill(); <-s.done })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(s.base + "/health"); err == nil {
			resp.Body.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("ccproxy did not come up: %s", s.logs.String())
		}
	}
}

// TestDemoModeEndToEnd runs the binary as a newcomer would (no key: demo
// upstream), streams a message through it and stops it with SIGTERM.
func TestDemoModeEndToEnd(t *testing.T) {
	srv := startServer(t, buildBinary(t, "fasthttp"))
	base, logs := srv.base, srv.logs
	body := `{"model":"claude-sonnet-4-5","max_tokens":200,"stream":true,"messages":[{"role":"user","content":"hello demo"}]}`
	resp, err := http.Post(base+"/v1/messages?beta=true", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var evs []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "event: ") {
			evs = append(evs, l[7:])
		}
	}
	resp.Body.Close()
	if len(evs) < 5 || evs[0] != "message_start" || evs[len(evs)-1] != "message_stop" {
		t.Fatalf("events %v", evs)
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-srv.done:
		if srv.err != nil {
			t.Fatalf("exit after SIGTERM: %v", srv.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	l := logs.String()
	for _, want := range []string{"DEMO MODE", `"engine":"fasthttp"`, `"source":"default"`, `"route":"messages"`, "stopped"} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %s:\n%s", want, l)
		}
	}
}
