package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/bench/load"
)

// w1Body is the small OpenAI chat request of workload W1 (passthrough route).
var w1Body = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in five words."}],"max_tokens":32,"temperature":0}`)

// anthropicHeaders are those Claude Code sends on /v1/messages.
var anthropicHeaders = [][2]string{
	{"anthropic-version", "2023-06-01"},
	{"anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14"},
	{"x-api-key", "bench-client-key"},
	{"User-Agent", "claude-cli/2.1.332 (external, cli)"},
}

var openaiHeaders = [][2]string{{"Authorization", "Bearer bench-upstream-key"}}

// workloads are the requests of one configuration: W2 (Claude Code turn on
// /v1/messages, or its translation sent direct) and W1 (small OpenAI chat).
type workloads struct {
	W2, W1 *load.Request
}

func proxyWorkloads(base string, fixture []byte) workloads {
	return workloads{
		W2: &load.Request{URL: base + "/v1/messages?beta=true", Header: anthropicHeaders, Body: fixture},
		W1: &load.Request{URL: base + "/v1/chat/completions", Header: openaiHeaders, Body: w1Body},
	}
}

func directWorkloads(base string, translated []byte) workloads {
	return workloads{
		W2: &load.Request{URL: base + "/v1/chat/completions", Header: openaiHeaders, Body: translated},
		W1: &load.Request{URL: base + "/v1/chat/completions", Header: openaiHeaders, Body: w1Body},
	}
}

// captureTranslation sends the fixture once through a ccproxy talking to
// the H1 upstream (child process) and returns the OpenAI body the upstream received: the
// body "direct" sends for W2.
func captureTranslation(ctx context.Context, h *harness, fixture []byte) ([]byte, error) {
	up := h.ups.byProto[fakeupstream.H1]
	cfg := benchConfig{Name: "capture", Upstream: fakeupstream.H1, Env: []string{"ENGINE=nethttp", "HTTP2_ENABLED=false"}}
	p, err := startProxy(ctx, h.bin, h.tmp, filepath.Join(h.tmp, "capture.log"),
		h.ups.proxyEnv(cfg, up.URL()+"/v1", h.logLevel), false)
	if err != nil {
		return nil, err
	}
	defer p.Stop()
	c, err := load.NewClient(p.URL, 1)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	w := proxyWorkloads(p.URL, fixture)
	s, err := c.Do(w.W2, time.Now(), make([]byte, 32<<10), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("send fixture through ccproxy: %w (log: %s)", err, p.logTail())
	}
	if s.Events == 0 {
		return nil, fmt.Errorf("ccproxy answered the fixture without SSE events")
	}
	rec, err := up.LastRequest()
	if err != nil {
		return nil, err
	}
	if rec.Path != "/v1/chat/completions" || len(rec.Body) == 0 {
		return nil, fmt.Errorf("upstream recorded %s %s (%d bytes); want the translated chat request", rec.Method, rec.Path, len(rec.Body))
	}
	if err := os.WriteFile(filepath.Join(h.tmp, "w2-translated.json"), rec.Body, 0o644); err != nil {
		return nil, err
	}
	return rec.Body, nil
}

// countUpstreamEvents sends the translated W2 body straight to the H1
// upstream once and returns how many SSE events the reply has.
func countUpstreamEvents(h *harness) (int, error) {
	up := h.ups.byProto[fakeupstream.H1]
	c, err := load.NewClient(up.URL(), 1)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	s, err := c.Do(directWorkloads(up.URL(), h.translated).W2, time.Now(), make([]byte, 32<<10), nil, nil)
	if err != nil {
		return 0, err
	}
	if s.Events == 0 {
		return 0, fmt.Errorf("upstream reply to W2 has no SSE events")
	}
	return s.Events, nil
}
