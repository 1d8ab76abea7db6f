package main

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/bench/ccproc"
	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/bench/load"
	"github.com/ccproxy/ccproxy/bench/report"
)

// deadUpstreamHarness builds bench/cmd/fakeupstream and returns a harness
// with its upstreams started for the direct configuration (its load:
// latency, seq sequential requests in one round), ready for runConfigs.
func deadUpstreamHarness(t *testing.T, ctx context.Context, seq string) (*harness, []benchConfig) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs bench/cmd/fakeupstream")
	}
	root, err := ccproc.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags([]string{"-configs", "direct", "-scenarios", "latency", "-seq", seq, "-rounds", "1", "-pprof=false"})
	if err != nil {
		t.Fatal(err)
	}
	cfgs, err := selectConfigs(o.configs)
	if err != nil {
		t.Fatal(err)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { devnull.Close() })
	h := &harness{o: o, root: root, tmp: t.TempDir(), logLevel: "warn", translated: hopW2Body(),
		prog: newProgressLine(devnull), scen: map[string]bool{"latency": true}, res: map[string]*configResult{}, rep: &report.Report{}}
	if err := h.buildUpstream(ctx); err != nil {
		t.Fatal(err)
	}
	if h.ups, err = startUpstreams(cfgs, h.tmp, h.upBin, fakeupstream.Options{Chunks: 2, TextOnly: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.ups.Close)
	return h, cfgs
}

// h1Child returns the harness's H1 upstream child process.
func h1Child(t *testing.T, h *harness) *fakeupstream.Child {
	t.Helper()
	ch, ok := h.ups.byProto[fakeupstream.H1].(*fakeupstream.Child)
	if !ok {
		t.Fatalf("the H1 upstream is a %T, not a child process", h.ups.byProto[fakeupstream.H1])
	}
	return ch
}

// killChild kills ch with SIGKILL and waits until it is gone.
func killChild(t *testing.T, ch *fakeupstream.Child) {
	t.Helper()
	if err := syscall.Kill(ch.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the killed child did not exit within 10 s")
	}
}

// wantDeadUpstreamError fails unless err says that the H1 fake upstream
// exited.
func wantDeadUpstreamError(t *testing.T, err error) {
	t.Helper()
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "h1 fake upstream") || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("runConfigs with a dead upstream returned %v; want an error naming the h1 fake upstream that exited", err)
	}
}

// TestRunConfigsUpstreamDiedBeforeStart: an upstream child that is gone
// before the configurations start fails the run; it must not be reported
// as "direct: not measured" and a report written without direct.
func TestRunConfigsUpstreamDiedBeforeStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, cfgs := deadUpstreamHarness(t, ctx, "20")
	killChild(t, h1Child(t, h))
	wantDeadUpstreamError(t, h.runConfigs(ctx, cfgs))
}

// TestRunConfigsUpstreamDiesMidRun: an upstream child that dies while the
// rounds run fails the run instead of measuring a dead upstream as errors.
func TestRunConfigsUpstreamDiesMidRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// 5,000 sequential requests: far more than the 100 after which the
	// child is killed, so it dies while the load runs.
	h, cfgs := deadUpstreamHarness(t, ctx, "5000")
	ch := h1Child(t, h)
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for ctx.Err() == nil {
			st, err := ch.Stats()
			if err != nil || st.Requests >= 100 {
				break
			}
			time.Sleep(5 * time.Millisecond) // polling interval, not an assertion
		}
		_ = syscall.Kill(ch.Pid(), syscall.SIGKILL)
	}()
	err := h.runConfigs(ctx, cfgs)
	<-killed
	wantDeadUpstreamError(t, err)
	if ctx.Err() != nil {
		t.Fatal("runConfigs ran until the test's deadline")
	}
}

// TestChildAndInProcUpstreamsStreamAlike: direct (the H1 child) and
// direct-inproc (the in-process upstream) are started from the same options
// and answer the W2 stand-in (tools, stream:true) with the same number of
// SSE events (role, -chunks content chunks, finish, usage, [DONE]), also
// after SetOptions reaches both: a ratio between them compares process
// boundaries, not different replies.
func TestChildAndInProcUpstreamsStreamAlike(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs bench/cmd/fakeupstream")
	}
	root, err := ccproc.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfgs, err := selectConfigs("direct,direct-inproc")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{root: root, tmp: t.TempDir(), translated: hopW2Body()}
	if err := h.buildUpstream(ctx); err != nil {
		t.Fatal(err)
	}
	if h.ups, err = startUpstreams(cfgs, h.tmp, h.upBin, fakeupstream.Options{Chunks: 7, TextOnly: true}); err != nil {
		t.Fatal(err)
	}
	defer h.ups.Close()
	events := func(c benchConfig) int {
		t.Helper()
		up := h.ups.forConfig(c)
		cl, err := load.NewClient(up.URL(), 1)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		s, err := cl.Do(directWorkloads(up.URL(), h.translated).W2, time.Now(), make([]byte, 32<<10), nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		return s.Events
	}
	for _, chunks := range []int{7, 3} {
		if chunks != 7 {
			if err := h.ups.SetOptions(func(o *fakeupstream.Options) { o.Chunks = chunks }); err != nil {
				t.Fatal(err)
			}
		}
		d, di := events(cfgs[0]), events(cfgs[1])
		if d != chunks+4 || di != d {
			t.Fatalf("chunks=%d: direct (child) received %d SSE events, direct-inproc %d; want %d each", chunks, d, di, chunks+4)
		}
	}
}
