package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/ccproxy/ccproxy/bench/ccproc"
)

// proxyProc is a running ccproxy (or hop) process, with its pprof endpoint
// when enabled.
type proxyProc struct {
	*ccproc.Proc
	PprofAddr string // "" when not enabled
}

// startProxy runs bin with a clean environment made of env plus HOST,
// PORT, GOMAXPROCS and (when pprof) PPROF_ADDR, with its log in logPath,
// and waits until GET /health answers 200.
func startProxy(ctx context.Context, bin, workDir, logPath string, env []string, pprof bool) (*proxyProc, error) {
	full := append([]string{"GOMAXPROCS=2"}, env...)
	p := &proxyProc{}
	if pprof {
		var err error
		if p.PprofAddr, err = ccproc.FreeAddr(); err != nil {
			return nil, err
		}
		full = append(full, "PPROF_ADDR="+p.PprofAddr)
	}
	cp, err := ccproc.Start(ctx, ccproc.Options{Bin: bin, Dir: workDir, LogPath: logPath, Env: full})
	if err != nil {
		return nil, err
	}
	p.Proc = cp
	return p, nil
}

// startChild starts the process of the proxied configuration c in front
// of the upstream at base (scheme://host:port, no path) and returns it with
// the workloads that drive it: ccproxy gets the Claude Code turn on
// /v1/messages and W1, the hop (which translates nothing) gets the direct
// workloads. logName names the log file in the harness's temp directory.
func (h *harness) startChild(ctx context.Context, c benchConfig, base, logName string, pprof bool) (*proxyProc, workloads, error) {
	logPath := filepath.Join(h.tmp, logName)
	if c.Hop {
		if h.hopBin == "" {
			return nil, workloads{}, errors.New("hop binary not built")
		}
		p, err := startProxy(ctx, h.hopBin, h.tmp, logPath, []string{"UPSTREAM_URL=" + base}, false)
		if err != nil {
			return nil, workloads{}, err
		}
		return p, directWorkloads(p.URL, h.translated), nil
	}
	p, err := startProxy(ctx, h.bin, h.tmp, logPath, h.ups.proxyEnv(c, base+"/v1", h.logLevel), pprof)
	if err != nil {
		return nil, workloads{}, err
	}
	return p, proxyWorkloads(p.URL, h.fixture), nil
}

// logTail returns the last lines of the process log.
func (p *proxyProc) logTail() string { return p.LogTail(2000) }

// Profile fetches a CPU profile of seconds from the process's pprof
// endpoint into path.
func (p *proxyProc) Profile(ctx context.Context, seconds int, path string) error {
	return p.fetchProfile(ctx, fmt.Sprintf("profile?seconds=%d", seconds), time.Duration(seconds+30)*time.Second, path)
}

// HeapProfile fetches a heap profile (as of the last garbage collection)
// from the process's pprof endpoint into path.
func (p *proxyProc) HeapProfile(ctx context.Context, path string) error {
	return p.fetchProfile(ctx, "heap", 30*time.Second, path)
}

func (p *proxyProc) fetchProfile(ctx context.Context, query string, timeout time.Duration, path string) error {
	if p.PprofAddr == "" {
		return errors.New("pprof not enabled")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		fmt.Sprintf("http://%s/debug/pprof/%s", p.PprofAddr, query), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return fmt.Errorf("fetch profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch profile: status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("fetch profile: %w", err)
	}
	return os.WriteFile(path, b, 0o644)
}
