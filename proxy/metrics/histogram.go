package metrics

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Log-linear bucket layout (see the package doc): values in microseconds,
// exact below 2^subBits, then 2^subBits linear sub-buckets per octave.
const (
	subBits    = 5
	subCount   = 1 << subBits
	maxExp     = 37 // values >= 2^maxExp µs are clamped
	numBuckets = (maxExp - subBits + 1) * subCount
)

// bucketOf returns the fine bucket index of v microseconds.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	if v >= 1<<maxExp {
		return numBuckets - 1
	}
	e := bits.Len64(v) - 1 // e >= subBits
	return (e-subBits+1)*subCount + int((v>>(e-subBits))&(subCount-1))
}

// bucketRange returns the lower bound and width (µs) of fine bucket i.
func bucketRange(i int) (lo, width uint64) {
	if i < subCount {
		return uint64(i), 1
	}
	e := i/subCount + subBits - 1
	sub := uint64(i % subCount)
	width = 1 << (e - subBits)
	return 1<<e + sub*width, width
}

// Prometheus bucket boundaries.
var (
	latencyBounds = []time.Duration{
		time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
		50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 30 * time.Second,
		60 * time.Second, 120 * time.Second, 300 * time.Second, 600 * time.Second,
	}
	overheadBounds = []time.Duration{
		50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
		time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
		25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
		500 * time.Millisecond, time.Second,
	}
)

// histogram is a lock-free latency histogram: fine log-linear buckets for
// percentiles plus exact counts for the Prometheus bucket bounds.
type histogram struct {
	sumNs  atomic.Int64
	maxNs  atomic.Int64
	bounds []time.Duration // Prometheus upper bounds (inclusive)
	prom   []atomic.Int64  // len(bounds)+1, non-cumulative; last is +Inf
	// promStart[i] is the index of the first bound >= the lower edge of
	// fine bucket i; observe walks on from there (at most one step for
	// bounds at least 1/32 apart).
	promStart [numBuckets]uint8
	fine      [numBuckets]atomic.Int64
	// recent holds the last winSlots minutes, one slot per minute (since
	// the Metrics started, on the monotonic clock), in coarse buckets.
	recent [winSlots]winSlot
}

// The recent window: the current minute and the winSlots-1 before it, in
// coarse buckets of 1<<coarseShift fine ones (8 per octave: a percentile's
// midpoint is within about 6% of the sample's value).
const (
	winSlots    = 6
	coarseShift = 2
	numCoarse   = numBuckets >> coarseShift
)

// winSlot counts one minute's observations.
type winSlot struct {
	// state is the minute counted, shifted left by one, with the low bit
	// set while the slot is being reset for it: a slot is reset when a
	// later minute reuses it.
	state  atomic.Int64
	sumNs  atomic.Int64
	maxNs  atomic.Int64
	counts [numCoarse]atomic.Uint32
}

// at returns the slot for minute, resetting it when it last counted an
// older minute, or nil: an observation racing with the slot's reset (or
// one more than five minutes late) is not counted in the window, so a
// slot never holds an observation's sum or max without its count, nor
// one of another minute's counts.
func (h *histogram) at(minute int64) *winSlot {
	sl := &h.recent[minute%winSlots]
	want := minute << 1
	for {
		st := sl.state.Load()
		switch {
		case st == want:
			return sl
		case st>>1 >= minute: // being reset for this minute, or counting a later one
			return nil
		case sl.state.CompareAndSwap(st, want|1):
			sl.sumNs.Store(0)
			sl.maxNs.Store(0)
			for i := range sl.counts {
				sl.counts[i].Store(0)
			}
			sl.state.Store(want)
			return sl
		}
	}
}

// coarseRange returns the lower bound and width (µs) of coarse bucket c.
func coarseRange(c int) (lo, width uint64) {
	lo, w := bucketRange(c << coarseShift)
	return lo, w << coarseShift
}

func newHistogram(bounds []time.Duration) *histogram {
	if len(bounds) > 255 {
		panic("metrics: too many histogram bounds")
	}
	h := &histogram{bounds: bounds, prom: make([]atomic.Int64, len(bounds)+1)}
	j := 0
	for i := range h.promStart {
		lo, _ := bucketRange(i)
		for j < len(bounds) && bounds[j] < time.Duration(lo)*time.Microsecond {
			j++
		}
		h.promStart[i] = uint8(j)
	}
	return h
}

// observe records d, finished in the given minute (see Metrics.minute);
// negative durations count as zero.
func (h *histogram) observe(d time.Duration, minute int64) {
	if d < 0 {
		d = 0
	}
	h.sumNs.Add(int64(d))
	storeMax(&h.maxNs, int64(d))
	fi := bucketOf(uint64(d / time.Microsecond))
	h.fine[fi].Add(1)
	if sl := h.at(minute); sl != nil {
		sl.sumNs.Add(int64(d))
		storeMax(&sl.maxNs, int64(d))
		sl.counts[fi>>coarseShift].Add(1)
	}
	j := int(h.promStart[fi])
	for j < len(h.bounds) && h.bounds[j] < d {
		j++
	}
	h.prom[j].Add(1)
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// latencySnapshot is a point-in-time copy of a histogram's buckets (fine
// ones since start, or coarse ones for the recent window), from which
// percentiles are read.
type latencySnapshot struct {
	count   uint64
	sumNs   int64
	maxNs   int64
	buckets []uint64
	rangeOf func(int) (lo, width uint64) // bucketRange or coarseRange
}

func (h *histogram) snapshot() *latencySnapshot {
	s := &latencySnapshot{sumNs: h.sumNs.Load(), maxNs: h.maxNs.Load(), buckets: make([]uint64, numBuckets), rangeOf: bucketRange}
	for i := range h.fine {
		c := uint64(h.fine[i].Load())
		s.buckets[i] = c
		s.count += c
	}
	return s
}

// recentSnapshot sums the window's slots for the minutes up to now.
func (h *histogram) recentSnapshot(now int64) *latencySnapshot {
	s := &latencySnapshot{buckets: make([]uint64, numCoarse), rangeOf: coarseRange}
	var part [numCoarse]uint64
	for i := range h.recent {
		sl := &h.recent[i]
		st := sl.state.Load()
		if m := st >> 1; st&1 != 0 || m > now || m <= now-winSlots {
			continue
		}
		sum, mx := sl.sumNs.Load(), sl.maxNs.Load()
		var n uint64
		for j := range sl.counts {
			part[j] = uint64(sl.counts[j].Load())
			n += part[j]
		}
		if sl.state.Load() != st {
			// Reused while read: the minute it counted has left the
			// window (the slot's next minute is past now).
			continue
		}
		s.sumNs += sum
		s.maxNs = max(s.maxNs, mx)
		s.count += n
		for j, c := range part {
			s.buckets[j] += c
		}
	}
	return s
}

// merge adds o, of the same bucket layout, into s.
func (s *latencySnapshot) merge(o *latencySnapshot) {
	s.count += o.count
	s.sumNs += o.sumNs
	s.maxNs = max(s.maxNs, o.maxNs)
	if s.buckets == nil {
		s.buckets, s.rangeOf = make([]uint64, len(o.buckets)), o.rangeOf
	}
	for i := range s.buckets {
		s.buckets[i] += o.buckets[i]
	}
}

// quantile returns the q-quantile (0<q<=1) in microseconds: the midpoint
// of the bucket holding the sample of rank ceil(q*count), capped at the
// observed maximum. It returns 0 when there are no samples.
func (s *latencySnapshot) quantile(q float64) float64 {
	if s.count == 0 {
		return 0
	}
	rank := uint64(q*float64(s.count) + 0.999999)
	rank = min(max(rank, 1), s.count)
	var seen uint64
	for i, c := range s.buckets {
		seen += c
		if seen >= rank {
			lo, w := s.rangeOf(i)
			v := float64(lo)
			if w > 1 {
				v += float64(w) / 2
			}
			return min(v, float64(s.maxNs)/1e3)
		}
	}
	return float64(s.maxNs) / 1e3
}

// promBuckets returns the cumulative Prometheus bucket counts keyed by upper
// bound in seconds, the total count and the sum in seconds.
func (h *histogram) promBuckets() (map[float64]uint64, uint64, float64) {
	buckets := make(map[float64]uint64, len(h.bounds))
	var cum uint64
	for i, b := range h.bounds {
		cum += uint64(h.prom[i].Load())
		buckets[b.Seconds()] = cum
	}
	cum += uint64(h.prom[len(h.bounds)].Load())
	// count is the sum of the buckets so that +Inf >= every bucket even
	// while observations race with the scrape.
	return buckets, cum, float64(h.sumNs.Load()) / 1e9
}
