package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
)

// bodies are the request bodies of the mix, made from the Claude Code
// fixtures.
type bodies struct {
	streams [][]byte // Messages requests with "stream": true
	unary   [][]byte // the same with "stream": false
	count   [][]byte // count_tokens requests
	chat    []byte   // an OpenAI streamed chat completion (passthrough)
}

func loadBodies(root string) (*bodies, error) {
	files, err := filepath.Glob(filepath.Join(root, "testdata", "cc-*.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no fixtures in %s/testdata: %v", root, err)
	}
	b := &bodies{chat: []byte(`{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"hi"}]}`)}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if !json.Valid(data) {
			return nil, fmt.Errorf("%s is not JSON", f)
		}
		var probe struct {
			Stream *bool `json:"stream"`
		}
		_ = json.Unmarshal(data, &probe)
		if strings.Contains(filepath.Base(f), "count-tokens") || probe.Stream == nil {
			b.count = append(b.count, data)
			continue
		}
		b.streams = append(b.streams, setStream(data, true))
		b.unary = append(b.unary, setStream(data, false))
		b.count = append(b.count, data)
	}
	if len(b.streams) == 0 {
		return nil, errors.New("no streamed Messages fixture")
	}
	return b, nil
}

// setStream returns body with its top-level "stream" set to v.
func setStream(body []byte, v bool) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return body
	}
	m["stream"] = json.RawMessage(strconv.FormatBool(v))
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

// tally counts outcomes by request kind and keeps the failures.
type tally struct {
	mu       sync.Mutex
	outcomes map[string]int64
	failures []string
	failed   atomic.Int64
	requests atomic.Int64
}

func (t *tally) add(kind, outcome string) {
	t.requests.Add(1)
	t.mu.Lock()
	t.outcomes[kind+" "+outcome]++
	t.mu.Unlock()
}

// fail records a broken invariant.
func (t *tally) fail(kind, format string, args ...any) {
	t.failed.Add(1)
	msg := kind + ": " + fmt.Sprintf(format, args...)
	t.mu.Lock()
	t.outcomes[kind+" FAILED"]++
	if len(t.failures) < 30 {
		t.failures = append(t.failures, msg)
	}
	t.mu.Unlock()
	t.requests.Add(1)
}

func (t *tally) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]string, 0, len(t.outcomes))
	for k := range t.outcomes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, fmt.Sprintf("  %-44s %8d", k, t.outcomes[k]))
	}
	return out
}

// loader runs the request mix against one ccproxy.
type loader struct {
	url    string
	client *http.Client
	b      *bodies
	t      *tally
}

// kinds of the mix with their weights (out of 100).
var mix = []struct {
	kind   string
	weight int
}{
	{"stream", 45}, {"unary", 15}, {"passthrough", 10}, {"count_tokens", 10}, {"disconnect", 20},
}

func (l *loader) pick(rng *rand.Rand) string {
	n := rng.IntN(100)
	for _, m := range mix {
		if n < m.weight {
			return m.kind
		}
		n -= m.weight
	}
	return mix[0].kind
}

// run sends requests until ctx ends.
func (l *loader) run(ctx context.Context, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for ctx.Err() == nil {
		switch kind := l.pick(rng); kind {
		case "stream":
			l.stream(ctx, kind, l.b.streams[rng.IntN(len(l.b.streams))], 0)
		case "disconnect":
			l.stream(ctx, kind, l.b.streams[rng.IntN(len(l.b.streams))], 1+rng.IntN(6))
		case "unary":
			l.unary(ctx, l.b.unary[rng.IntN(len(l.b.unary))])
		case "passthrough":
			l.passthrough(ctx)
		case "count_tokens":
			l.countTokens(ctx, l.b.count[rng.IntN(len(l.b.count))])
		}
	}
}

func (l *loader) post(ctx context.Context, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	req.Header.Set("x-api-key", "soak-client")
	return l.client.Do(req)
}

// errorStatus classifies a non-2xx answer of an Anthropic route and
// checks it: the envelope, and no 500 of ccproxy's own making (a 500 is
// only fine when it is the fake upstream's injected one, passed on).
// request posts body on rctx (ctx, or a child the caller may cancel to
// leave early) and records a transport failure unless ctx is over; nil
// means there is no response.
func (l *loader) request(ctx, rctx context.Context, kind, path string, body []byte) *http.Response {
	resp, err := l.post(rctx, path, body)
	if err != nil {
		if ctx.Err() == nil {
			l.t.fail(kind, "request: %v", err)
		}
		return nil
	}
	return resp
}

func (l *loader) errorStatus(kind string, resp *http.Response) {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	typ, msg, err := errorEnvelope(b)
	if err != nil {
		l.t.fail(kind, "status %d: %v", resp.StatusCode, err)
		return
	}
	if resp.StatusCode == http.StatusInternalServerError && !strings.Contains(msg, "injected") {
		l.t.fail(kind, "500 from the edge: %s", msg)
		return
	}
	l.t.add(kind, "http_"+strconv.Itoa(resp.StatusCode)+" "+typ)
}

// stream sends a streamed Messages request; leaveAfter > 0 disconnects
// after that many events.
func (l *loader) stream(ctx context.Context, kind string, body []byte, leaveAfter int) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp := l.request(ctx, rctx, kind, "/v1/messages", body)
	if resp == nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		l.errorStatus(kind, resp)
		return
	}
	evs, err := readSSE(resp.Body, leaveAfter)
	if leaveAfter > 0 {
		cancel()
		if err != nil && ctx.Err() == nil && len(evs) < leaveAfter {
			// The stream ended early (a short reply): check what came.
			l.t.fail(kind, "stream broken after %d events: %v", len(evs), err)
			return
		}
		l.t.add(kind, "left")
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			l.t.fail(kind, "stream broken after %d events: %v", len(evs), err)
		}
		return
	}
	sawErr, err := checkGrammar(evs)
	if err != nil {
		l.t.fail(kind, "grammar: %v", err)
		return
	}
	if sawErr {
		l.t.add(kind, "200 error_event")
		return
	}
	l.t.add(kind, "200 ok")
}

func (l *loader) unary(ctx context.Context, body []byte) {
	const kind = "unary"
	resp := l.request(ctx, ctx, kind, "/v1/messages", body)
	if resp == nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		l.errorStatus(kind, resp)
		return
	}
	var m struct {
		Type string `json:"type"`
		Role string `json:"role"`
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		if ctx.Err() == nil {
			l.t.fail(kind, "reading the message: %v", err)
		}
		return
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Type != "message" || m.Role != "assistant" {
		l.t.fail(kind, "200 that is not a message: %.200s", b)
		return
	}
	l.t.add(kind, "200 ok")
}

func (l *loader) countTokens(ctx context.Context, body []byte) {
	const kind = "count_tokens"
	resp := l.request(ctx, ctx, kind, "/v1/messages/count_tokens", body)
	if resp == nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		l.errorStatus(kind, resp)
		return
	}
	var c struct {
		InputTokens int `json:"input_tokens"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || c.InputTokens <= 0 {
		if ctx.Err() == nil {
			l.t.fail(kind, "bad count: %v %d", err, c.InputTokens)
		}
		return
	}
	l.t.add(kind, "200 ok")
}

// passthrough: an OpenAI stream. A fault after the head cuts the
// connection on purpose (the only way to tell an OpenAI client).
func (l *loader) passthrough(ctx context.Context) {
	const kind = "passthrough"
	resp := l.request(ctx, ctx, kind, "/v1/chat/completions", l.b.chat)
	if resp == nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if !json.Valid(b) {
			l.t.fail(kind, "status %d with a non-JSON body: %.200s", resp.StatusCode, b)
			return
		}
		if resp.StatusCode == http.StatusInternalServerError && !bytes.Contains(b, []byte("injected")) {
			l.t.fail(kind, "500 from the edge: %.200s", b)
			return
		}
		l.t.add(kind, "http_"+strconv.Itoa(resp.StatusCode))
		return
	}
	evs, err := readSSE(resp.Body, 0)
	switch {
	case err != nil && ctx.Err() == nil:
		l.t.add(kind, "200 cut")
	case err != nil:
	case len(evs) > 0 && evs[len(evs)-1].Data == "[DONE]":
		l.t.add(kind, "200 ok")
	default:
		// Truncated or error-object streams end cleanly without [DONE]:
		// the passthrough passes them as they are.
		l.t.add(kind, "200 no_done")
	}
}

// faultMix has every fault kind the fake upstream knows.
var faultMix = []fakeupstream.Fault{
	{Kind: fakeupstream.Status, Status: 429, RetryAfter: "0"},
	{Kind: fakeupstream.Status, Status: 500},
	{Kind: fakeupstream.Status, Status: 503},
	{Kind: fakeupstream.Status, Status: 529},
	{Kind: fakeupstream.Status, Status: 400},
	{Kind: fakeupstream.ResetBeforeHeaders},
	{Kind: fakeupstream.ResetMidStream, AfterChunks: 3},
	{Kind: fakeupstream.Truncate, AfterChunks: 4},
	{Kind: fakeupstream.MalformedChunk, AfterChunks: 2},
	{Kind: fakeupstream.StreamError, AfterChunks: 5, Body: "soak"},
	{Kind: fakeupstream.SlowHeaders, Delay: 300 * time.Millisecond},
	{Kind: fakeupstream.Stall, AfterChunks: 3, Delay: 500 * time.Millisecond},
}

// injectFaults keeps a few faults queued until ctx ends, so that a steady
// share of upstream attempts misbehaves; it returns how many it queued.
func injectFaults(ctx context.Context, up *fakeupstream.Server, every time.Duration) int64 {
	var n int64
	t := time.NewTicker(every)
	defer t.Stop()
	i := 0
	for {
		select {
		case <-ctx.Done():
			return n
		case <-t.C:
		}
		if up.PendingFaults() < 2 {
			up.InjectFaults(faultMix[i%len(faultMix)])
			i++
			n++
		}
	}
}
