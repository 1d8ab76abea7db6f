package load

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxSamples bounds the latency samples kept per run (memory stays bounded
// however long a run lasts; counts stay exact).
const maxSamples = 1 << 20

// Result aggregates one run.
type Result struct {
	// Requests completed successfully and Errors that failed.
	Requests, Errors int64
	// FirstError is the text of the first failure, if any.
	FirstError string
	// Elapsed is the measured wall time.
	Elapsed time.Duration
	// Latency, FirstEvent, FirstToken and Gap summarise the samples (Gap:
	// time between consecutive SSE events inside a response).
	Latency, FirstEvent, FirstToken, Gap Summary
	// Events is the total SSE events received.
	Events int64
	// Samples are the latency samples, sorted, when the run was asked to
	// keep them (Closed.KeepSamples): callers that merge several runs
	// summarise the union.
	Samples []time.Duration
}

// RPS is successful requests per second of wall time.
func (r Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Summary is a latency distribution.
type Summary struct {
	N                              int
	Mean, P50, P90, P99, P999, Max time.Duration
}

// Summarize sorts d in place and summarises it.
func Summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	q := func(p float64) time.Duration {
		i := int(p * float64(len(d)-1))
		return d[i]
	}
	return Summary{N: len(d), Mean: sum / time.Duration(len(d)), P50: q(0.50), P90: q(0.90),
		P99: q(0.99), P999: q(0.999), Max: d[len(d)-1]}
}

// Progress is a live counter a caller may poll while a run is going.
type Progress struct {
	// Done and Errors count completed requests; Open counts responses whose
	// head arrived and whose body is still being read.
	Done, Errors, Open atomic.Int64
}

// collector gathers samples from many workers.
type collector struct {
	mu                   sync.Mutex
	lat, first, tok, gap []time.Duration
	events, errs, ok     int64
	firstErr             string
	progress             *Progress
}

func (c *collector) add(s Sample, gaps []time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.errs++
		if c.firstErr == "" {
			c.firstErr = err.Error()
		}
		if c.progress != nil {
			c.progress.Errors.Add(1)
		}
		return
	}
	c.ok++
	c.events += int64(s.Events)
	if len(c.lat) < maxSamples {
		c.lat = append(c.lat, s.Latency)
		if s.Events > 0 {
			c.first = append(c.first, s.FirstEvent)
		}
		if s.FirstToken > 0 {
			c.tok = append(c.tok, s.FirstToken)
		}
	}
	if len(c.gap) < maxSamples {
		c.gap = append(c.gap, gaps...)
	}
	if c.progress != nil {
		c.progress.Done.Add(1)
	}
}

func (c *collector) result(elapsed time.Duration) Result {
	return Result{Requests: c.ok, Errors: c.errs, FirstError: c.firstErr, Elapsed: elapsed,
		Latency: Summarize(c.lat), FirstEvent: Summarize(c.first), FirstToken: Summarize(c.tok), Gap: Summarize(c.gap), Events: c.events}
}

// Closed configures a closed-loop run: Concurrency workers each send a
// request as soon as their previous one completed.
type Closed struct {
	Concurrency int
	// Duration bounds the measured window; Requests (if > 0) bounds the
	// number of requests. At least one must be set.
	Duration time.Duration
	Requests int64
	// Gaps records inter-event gaps (costs a little client CPU).
	Gaps bool
	// Progress, if non-nil, is updated as requests complete.
	Progress *Progress
	// KeepSamples returns the latency samples in Result.Samples.
	KeepSamples bool
}

// RunClosed runs a closed-loop load of req against c.
func RunClosed(ctx context.Context, c *Client, req *Request, o Closed) Result {
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.Duration <= 0 && o.Requests <= 0 {
		o.Requests = 1
	}
	col := &collector{progress: o.Progress}
	var issued atomic.Int64
	start := time.Now()
	var deadline time.Time
	if o.Duration > 0 {
		deadline = start.Add(o.Duration)
	}
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 32<<10)
			var gaps []time.Duration
			for ctx.Err() == nil {
				if !deadline.IsZero() && time.Now().After(deadline) {
					return
				}
				if o.Requests > 0 && issued.Add(1) > o.Requests {
					return
				}
				gaps = gaps[:0]
				var onGap gapRecorder
				if o.Gaps {
					onGap = func(d time.Duration) { gaps = append(gaps, d) }
				}
				s, err := c.Do(req, time.Now(), buf, onGap, o.Progress)
				col.add(s, gaps, err)
			}
		}()
	}
	wg.Wait()
	res := col.result(time.Since(start))
	if o.KeepSamples {
		res.Samples = col.lat // sorted by Summarize
	}
	return res
}

// Open configures an open-loop run: requests start at a fixed rate whether
// or not earlier ones completed, up to MaxInFlight at once; each latency is
// measured from its intended start time.
type Open struct {
	Rate        float64 // requests per second
	Duration    time.Duration
	MaxInFlight int
	Progress    *Progress
}

// RunOpen runs an open-loop load of req against c.
func RunOpen(ctx context.Context, c *Client, req *Request, o Open) Result {
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 256
	}
	if o.Rate <= 0 || o.Duration <= 0 {
		return Result{}
	}
	total := int64(o.Rate * o.Duration.Seconds())
	interval := time.Duration(float64(time.Second) / o.Rate)
	col := &collector{progress: o.Progress}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range o.MaxInFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 32<<10)
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				intended := start.Add(time.Duration(i) * interval)
				if d := time.Until(intended); d > 0 {
					t := time.NewTimer(d)
					select {
					case <-t.C:
					case <-ctx.Done():
						t.Stop()
						return
					}
				}
				s, err := c.Do(req, intended, buf, nil, o.Progress)
				col.add(s, nil, err)
			}
		}()
	}
	wg.Wait()
	return col.result(time.Since(start))
}

// Burst sends n requests at once and returns the wall time until the last
// one completed, plus the run's result. It repeats rounds times and reports
// the median wall time.
func Burst(ctx context.Context, c *Client, req *Request, n, rounds int) (time.Duration, Result) {
	if rounds <= 0 {
		rounds = 1
	}
	walls := make([]time.Duration, 0, rounds)
	col := &collector{}
	start := time.Now()
	for range rounds {
		if ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := c.Do(req, time.Now(), make([]byte, 32<<10), nil, nil)
				col.add(s, nil, err)
			}()
		}
		wg.Wait()
		walls = append(walls, time.Since(t0))
	}
	res := col.result(time.Since(start))
	return Summarize(walls).P50, res
}
