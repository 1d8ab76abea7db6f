package ccproc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// The command name may contain spaces and parentheses.
	line := []byte("1234 (cc proxy) (x) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 8 0 100 0 0")
	got, err := parseStatCPU(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3250 * time.Millisecond; got != want {
		t.Fatalf("cpu = %v; want %v (325 ticks)", got, want)
	}
	for _, bad := range []string{"garbage", "1 (x) S 1 2 3", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 u s 0"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

func TestParseStatusMem(t *testing.T) {
	status := "Name:\tccproxy\nVmPeak:\t 999 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   20480 kB\nThreads:\t8\n"
	rss, peak, err := parseStatusMem([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if rss != 20<<20 || peak != 40<<20 {
		t.Fatalf("rss=%d peak=%d; want 20 MiB, 40 MiB", rss, peak)
	}
	if _, _, err := parseStatusMem([]byte("Name: x\n")); err == nil {
		t.Fatal("no error without VmRSS")
	}
	if _, _, err := parseStatusMem([]byte("VmHWM: 1 kB\nVmRSS: x kB\n")); err == nil {
		t.Fatal("no error for a malformed VmRSS")
	}
}

func TestOwnProcessStats(t *testing.T) {
	p := &Proc{pid: os.Getpid()}
	if _, err := p.CPU(); err != nil {
		t.Fatal(err)
	}
	rss, peak, err := p.Memory()
	if err != nil || rss <= 0 || peak < rss {
		t.Fatalf("rss=%d peak=%d err=%v", rss, peak, err)
	}
}

// script writes an executable shell script into dir.
func script(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "fake.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestStartExitingChild(t *testing.T) {
	dir := t.TempDir()
	bin := script(t, dir, `echo "env HOST=$HOST HOME=$HOME X=$X" >&2; exit 3`)
	_, err := Start(context.Background(), Options{Bin: bin, Dir: dir, Env: []string{"X=y"}})
	if err == nil {
		t.Fatal("no error for a child that exits")
	}
	want := "env HOST=127.0.0.1 HOME=" + dir + " X=y"
	if !strings.Contains(err.Error(), "exited during start-up") || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q; want the start-up exit and the log line %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "ccproxy.log")); err != nil {
		t.Fatalf("default log path: %v", err)
	}
}

func TestStartUnhealthyChildIsKilled(t *testing.T) {
	dir := t.TempDir()
	bin := script(t, dir, "echo never healthy; exec sleep 60")
	logPath := filepath.Join(dir, "other.log")
	_, err := Start(context.Background(), Options{Bin: bin, Dir: dir, LogPath: logPath, HealthTimeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "not healthy") || !strings.Contains(err.Error(), "never healthy") {
		t.Fatalf("error %v; want not healthy with the log tail", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, Options{Bin: bin, Dir: dir, LogPath: logPath}); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v; want context.Canceled", err)
	}
}

// TestStartRealProxy builds cmd/ccproxy and runs it: healthy, measurable,
// stopped by SIGTERM with exit status 0.
func TestStartRealProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/ccproxy")
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, err := Build(ctx, root, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(ctx, Options{Bin: bin, Dir: dir, Env: []string{
		"OPENAI_BASE_URL=http://127.0.0.1:1/v1", "OPENAI_API_KEY=test", "LOG_LEVEL=info"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if !strings.HasPrefix(p.URL, "http://127.0.0.1:") || p.URL != "http://"+p.Addr || p.Pid() <= 0 {
		t.Fatalf("URL=%q Addr=%q pid=%d", p.URL, p.Addr, p.Pid())
	}
	if _, err := p.CPU(); err != nil {
		t.Fatal(err)
	}
	if rss, peak, err := p.Memory(); err != nil || rss <= 0 || peak < rss {
		t.Fatalf("rss=%d peak=%d err=%v", rss, peak, err)
	}
	p.Stop()
	select {
	case <-p.Done():
	default:
		t.Fatal("Stop returned before the child exited")
	}
	if err := p.ExitErr(); err != nil {
		t.Fatalf("exit after SIGTERM: %v (log: %s)", err, p.LogTail(2000))
	}
	p.Stop() // a second Stop and Kill do nothing
	p.Kill()
	if err := p.Signal(syscall.SIGTERM); err == nil {
		t.Fatal("signal to an exited child succeeded")
	}
}
