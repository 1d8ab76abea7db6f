// Command soak is ccproxy's bounded soak test (make soak). It builds
// ./cmd/ccproxy, runs it as a child process in front of an in-process fake
// upstream that keeps injecting every kind of fault, and drives a mixed
// load (streamed and unary Messages requests from the Claude Code
// fixtures, OpenAI passthrough streams, count_tokens, clients that leave
// mid-stream) at bounded concurrency for -duration. It samples the child's
// goroutines (/metrics go_goroutines) and RSS (/proc VmRSS) every few
// seconds, and finally checks graceful shutdown: SIGTERM with a stream
// longer than SHUTDOWN_GRACE running must end that stream with an error
// event and message_stop, and the process must exit 0.
//
// It exits non-zero when a request saw a 500 of ccproxy's own making, a
// broken stream or grammar, a malformed error body, when goroutines or RSS
// measured idle after the load (after -settle) grew beyond tolerance over
// the idle baseline taken after a warm-up, or when shutdown misbehaved.
//
//	go run ./bench/cmd/soak -duration 5m [-concurrency 32] [-engine fasthttp]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ccproxy/ccproxy/bench/ccproc"
	"github.com/ccproxy/ccproxy/bench/fakeupstream"
)

type options struct {
	duration    time.Duration
	warmup      time.Duration
	concurrency int
	engine      string
	settle      time.Duration
	every       time.Duration
	faultEvery  time.Duration
	goSlack     int
	rssSlack    int64
	pprof       bool
	keep        bool
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 5*time.Minute, "how long the measured load runs")
	flag.DurationVar(&o.warmup, "warmup", 10*time.Second, "load before the idle baseline is taken")
	flag.IntVar(&o.concurrency, "concurrency", 32, "concurrent clients")
	flag.StringVar(&o.engine, "engine", "", "ENGINE for ccproxy (default: its own default)")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "idle time before an idle sample")
	flag.DurationVar(&o.every, "sample", 3*time.Second, "sampling interval")
	flag.DurationVar(&o.faultEvery, "fault-every", 20*time.Millisecond, "fault injection tick (keeps up to 2 faults queued)")
	flag.IntVar(&o.goSlack, "goroutine-slack", 40, "allowed goroutine growth, idle end over idle baseline")
	flag.Int64Var(&o.rssSlack, "rss-slack-mib", 64, "allowed RSS growth in MiB (on top of 25%), idle end over idle baseline")
	flag.BoolVar(&o.pprof, "pprof", false, "start ccproxy with PPROF_ADDR (address printed)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (binary, ccproxy.log)")
	flag.Parse()
	if o.concurrency < 1 || o.duration <= 0 {
		fmt.Fprintln(os.Stderr, "soak: -concurrency must be >= 1 and -duration > 0")
		os.Exit(2)
	}
	ok, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if !ok {
		fmt.Println("SOAK FAILED")
		os.Exit(1)
	}
	fmt.Println("SOAK PASSED")
}

func run(o options) (bool, error) {
	root, err := ccproc.ModuleRoot()
	if err != nil {
		return false, err
	}
	dir, err := os.MkdirTemp("", "ccproxy-soak-")
	if err != nil {
		return false, err
	}
	if o.keep {
		fmt.Println("temp dir:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	b, err := loadBodies(root)
	if err != nil {
		return false, err
	}
	fmt.Println("building ./cmd/ccproxy ...")
	bin, err := ccproc.Build(context.Background(), root, dir, "")
	if err != nil {
		return false, err
	}

	up, err := fakeupstream.Start(fakeupstream.Options{ChunkInterval: 5 * time.Millisecond, Chunks: 20})
	if err != nil {
		return false, err
	}
	defer up.Close()
	env := []string{
		"OPENAI_BASE_URL=" + up.URL + "/v1", "OPENAI_API_KEY=soak", "LOG_LEVEL=warn",
		"SHUTDOWN_GRACE=2s",
		// Short enough that the breaker opens and closes many times.
		"BREAKER_COOLDOWN=1s",
		// Idle upstream connections close during -settle, so the idle
		// samples do not depend on how many the pool happened to keep.
		"KEEPALIVE_EXPIRY=2s",
	}
	if o.engine != "" {
		env = append(env, "ENGINE="+o.engine)
	}
	if o.pprof {
		a, err := ccproc.FreeAddr()
		if err != nil {
			return false, err
		}
		env = append(env, "PPROF_ADDR="+a)
		fmt.Println("pprof: http://" + a + "/debug/pprof/")
	}
	c, err := ccproc.Start(context.Background(), ccproc.Options{Bin: bin, Dir: dir, Env: env, HealthTimeout: 20 * time.Second})
	if err != nil {
		return false, err
	}
	defer c.Kill()
	tr := &http.Transport{MaxIdleConnsPerHost: o.concurrency, DisableCompression: true}
	client := &http.Client{Transport: tr}
	mc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	idle := func() (sample, error) {
		tr.CloseIdleConnections()
		time.Sleep(o.settle)
		return takeSample(c, mc)
	}

	start, err := takeSample(c, mc)
	if err != nil {
		return false, err
	}
	fmt.Printf("engine=%q concurrency=%d duration=%v warmup=%v\n", o.engine, o.concurrency, o.duration, o.warmup)
	fmt.Printf("start:         goroutines %4d  rss %s  heap %s\n", start.Goroutines, mib(start.RSS), mib(start.HeapInuse))

	t := &tally{outcomes: map[string]int64{}}
	l := &loader{url: c.URL, client: client, b: b, t: t}
	drive := func(d time.Duration, sampleEvery time.Duration, samples *[]sample) int64 {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var wg sync.WaitGroup
		var faults int64
		wg.Go(func() { faults = injectFaults(ctx, up, o.faultEvery) })
		for i := range o.concurrency {
			wg.Go(func() { l.run(ctx, uint64(i)+uint64(time.Now().UnixNano())) })
		}
		if samples != nil {
			began := time.Now()
			tick := time.NewTicker(sampleEvery)
		loop:
			for {
				select {
				case <-ctx.Done():
					break loop
				case <-tick.C:
					if s, err := takeSample(c, mc); err == nil {
						s.At = time.Since(began)
						*samples = append(*samples, s)
					}
				}
			}
			tick.Stop()
		}
		wg.Wait()
		return faults
	}

	fmt.Printf("warm-up %v ...\n", o.warmup)
	drive(o.warmup, 0, nil)
	base, err := idle()
	if err != nil {
		return false, err
	}
	fmt.Printf("idle baseline: goroutines %4d  rss %s  heap %s\n", base.Goroutines, mib(base.RSS), mib(base.HeapInuse))
	warmReqs := t.requests.Load()

	fmt.Printf("load %v ...\n", o.duration)
	var samples []sample
	began := time.Now()
	faults := drive(o.duration, o.every, &samples)
	elapsed := time.Since(began)
	reqs := t.requests.Load() - warmReqs
	end, err := idle()
	if err != nil {
		return false, err
	}

	ok := true
	fmt.Printf("\nrequests: %d in %v (%.0f/s), faults queued: %d, upstream attempts: %d, upstream saw %d cancels\n",
		reqs, elapsed.Round(time.Second), float64(reqs)/elapsed.Seconds(), faults, up.Stats().Requests, up.Stats().Canceled)
	fmt.Println("outcomes (warm-up included):")
	for _, line := range t.lines() {
		fmt.Println(line)
	}
	peak := sample{}
	for _, s := range samples {
		peak.Goroutines = max(peak.Goroutines, s.Goroutines)
		peak.RSS = max(peak.RSS, s.RSS)
		peak.HeapInuse = max(peak.HeapInuse, s.HeapInuse)
	}
	fmt.Printf("\n%-14s %10s %12s %12s\n", "", "goroutines", "rss", "heap_inuse")
	for _, r := range []struct {
		name string
		s    sample
	}{{"start", start}, {"idle baseline", base}, {"peak in load", peak}, {"idle end", end}} {
		fmt.Printf("%-14s %10d %12s %12s\n", r.name, r.s.Goroutines, mib(r.s.RSS), mib(r.s.HeapInuse))
	}
	if n := len(samples); n >= 6 {
		third := n / 3
		fmt.Printf("in load, mean of first/last third of %d samples: goroutines %.0f -> %.0f, rss %s -> %s\n", n,
			meanG(samples[:third]), meanG(samples[n-third:]), mib(meanRSS(samples[:third])), mib(meanRSS(samples[n-third:])))
	}
	if end.Goroutines > base.Goroutines+o.goSlack {
		fmt.Printf("FAIL: goroutines grew from %d to %d when idle (slack %d)\n", base.Goroutines, end.Goroutines, o.goSlack)
		ok = false
	}
	if limit := base.RSS + base.RSS/4 + o.rssSlack<<20; end.RSS > limit {
		fmt.Printf("FAIL: RSS grew from %s to %s when idle (limit %s)\n", mib(base.RSS), mib(end.RSS), mib(limit))
		ok = false
	}
	if n := t.failed.Load(); n > 0 {
		fmt.Printf("FAIL: %d requests broke an invariant; first ones:\n", n)
		t.mu.Lock()
		for _, f := range t.failures {
			fmt.Println("  " + f)
		}
		t.mu.Unlock()
		ok = false
	}

	fmt.Println("\nshutdown: SIGTERM with a stream longer than SHUTDOWN_GRACE=2s running ...")
	if err := checkShutdown(c, client, up); err != nil {
		fmt.Println("FAIL: shutdown:", err)
		ok = false
	} else {
		fmt.Println("shutdown: stream ended with an error event and message_stop, new connections refused, exit status 0")
	}
	tr.CloseIdleConnections()
	if !ok {
		fmt.Println("ccproxy log tail:\n" + c.LogTail(3000))
	}
	return ok, nil
}

// checkShutdown starts a long stream, sends SIGTERM, and checks that the
// listener closes, the stream ends after the grace period with an error
// event then message_stop, and the process exits 0.
func checkShutdown(c *ccproc.Proc, client *http.Client, up *fakeupstream.Server) error {
	// A plain text reply of 200 chunks, 100 ms apart: 20 s, longer than
	// the grace period.
	const body = `{"model":"claude-sonnet-4-5","max_tokens":1000,"stream":true,"messages":[{"role":"user","content":"tell me a long story"}]}`
	up.SetOptions(func(o *fakeupstream.Options) { o.ChunkInterval, o.Chunks = 100*time.Millisecond, 200 })
	// Use up what the load left queued: this check wants a clean stream.
	for i := 0; up.PendingFaults() > 0 && i < 10; i++ {
		if r, err := client.Post(c.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`)); err == nil {
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/v1/messages", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	// A 5xx from the breaker (still open from the load) is retried.
	var resp *http.Response
	for try := 0; try < 10; try++ {
		r, err := client.Do(req.Clone(ctx))
		if err != nil {
			return fmt.Errorf("starting the stream: %w", err)
		}
		if r.StatusCode == http.StatusOK {
			resp = r
			break
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	if resp == nil {
		return errors.New("no stream could be started")
	}
	defer resp.Body.Close()
	first, err := readSSE(resp.Body, 2)
	if err != nil || len(first) < 2 {
		return fmt.Errorf("stream start: %v (%d events)", err, len(first))
	}
	sent := time.Now()
	if err := c.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	// The listener closes at once.
	var refused bool
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", c.Addr, 200*time.Millisecond)
		if err != nil {
			refused = true
			break
		}
		conn.Close()
	}
	if !refused {
		return errors.New("still accepting connections 2 s after SIGTERM")
	}
	rest, err := readSSE(resp.Body, 0)
	if err != nil {
		return fmt.Errorf("stream cut instead of ended after %v: %w", time.Since(sent).Round(time.Millisecond), err)
	}
	evs := append(first, rest...)
	sawErr, err := checkGrammar(evs)
	if err != nil {
		return fmt.Errorf("grammar: %w", err)
	}
	if !sawErr {
		return fmt.Errorf("the stream ended without an error event %v after SIGTERM (it should have been stopped)", time.Since(sent).Round(time.Millisecond))
	}
	for _, ev := range evs {
		if ev.Name == "error" && !strings.Contains(ev.Data, "shutting down") {
			return fmt.Errorf("error event does not say ccproxy is shutting down: %s", ev.Data)
		}
	}
	fmt.Printf("shutdown: stream ended %v after SIGTERM\n", time.Since(sent).Round(time.Millisecond))
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		return errors.New("ccproxy still running 10 s after SIGTERM")
	}
	if err := c.ExitErr(); err != nil {
		return fmt.Errorf("ccproxy exit: %w", err)
	}
	return nil
}

func meanG(s []sample) float64 {
	var sum float64
	for _, x := range s {
		sum += float64(x.Goroutines)
	}
	return sum / float64(len(s))
}

func meanRSS(s []sample) int64 {
	var sum int64
	for _, x := range s {
		sum += x.RSS
	}
	return sum / int64(len(s))
}
