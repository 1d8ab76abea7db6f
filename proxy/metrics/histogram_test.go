package metrics

import (
	"sort"
	"testing"
	"time"
)

func TestBucketLayout(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 31, 32, 33, 63, 64, 65, 100, 999, 1000, 1023, 1024, 123456, 1<<37 - 1} {
		i := bucketOf(v)
		if i < prev || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d (prev %d, max %d)", v, i, prev, numBuckets)
		}
		prev = i
		lo, w := bucketRange(i)
		if v < lo || v >= lo+w {
			t.Errorf("v=%d in bucket %d = [%d, %d)", v, i, lo, lo+w)
		}
		if mid := float64(lo) + float64(w)/2; w > 1 && (mid-float64(v))/float64(v) > 1.0/32 {
			t.Errorf("v=%d: midpoint %v off by more than 1/32", v, mid)
		}
	}
	if bucketOf(1<<60) != numBuckets-1 {
		t.Errorf("huge value not clamped")
	}
	// Adjacent buckets tile the line.
	for i := 1; i < numBuckets; i++ {
		plo, pw := bucketRange(i - 1)
		lo, _ := bucketRange(i)
		if plo+pw != lo {
			t.Fatalf("gap between bucket %d and %d", i-1, i)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	h := newHistogram(latencyBounds)
	for i := 1; i <= 1000; i++ {
		h.observe(time.Duration(i)*10*time.Microsecond, 0) // 10 µs .. 10 ms
	}
	h.observe(-time.Second, 0) // counted as zero
	s := h.snapshot()
	if s.count != 1001 {
		t.Fatalf("count = %d", s.count)
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 5000}, {0.95, 9500}, {0.99, 9900}, {1, 10000}} {
		got := s.quantile(c.q)
		if d := (got - c.want) / c.want; d > 0.02 || d < -0.02 {
			t.Errorf("q%.2f = %v µs, want %v ± 2%%", c.q, got, c.want)
		}
	}
	buckets, count, sum := h.promBuckets()
	if count != 1001 || buckets[0.001] != 101 || buckets[0.005] != 501 || buckets[0.01] != 1001 || buckets[600] != 1001 {
		t.Errorf("prom buckets count=%d %v", count, buckets)
	}
	if want := 5.005; sum < want-1e-9 || sum > want+1e-9 {
		t.Errorf("sum = %v, want %v", sum, want)
	}
}

// TestPromBucketExact checks that every duration lands in the Prometheus
// bucket of the first bound >= it, including values on and next to bounds.
func TestPromBucketExact(t *testing.T) {
	for _, bounds := range [][]time.Duration{latencyBounds, overheadBounds} {
		var ds []time.Duration
		for _, b := range bounds {
			ds = append(ds, b-time.Nanosecond, b, b+time.Nanosecond, b+time.Microsecond)
		}
		for d := time.Duration(0); d < 20*time.Minute; d = d*5/4 + 777 {
			ds = append(ds, d)
		}
		for _, d := range ds {
			h := newHistogram(bounds)
			h.observe(d, 0)
			want := sort.Search(len(bounds), func(i int) bool { return bounds[i] >= d })
			for j := range h.prom {
				if got := h.prom[j].Load(); (j == want) != (got == 1) {
					t.Fatalf("d=%v: bucket %d has %d, want the sample in bucket %d", d, j, got, want)
				}
			}
		}
	}
}

// TestRecentWindow: the recent snapshot holds the current minute and the
// five before it; a slot is reset when a later minute reuses it; its
// percentiles are within the coarse buckets' 6%.
func TestRecentWindow(t *testing.T) {
	h := newHistogram(latencyBounds)
	for i := 1; i <= 1000; i++ {
		h.observe(time.Duration(i)*10*time.Microsecond, 3) // 10 µs .. 10 ms in minute 3
	}
	h.observe(time.Hour, 0) // minute 0: out of the window from minute 6 on
	s := h.recentSnapshot(5)
	if s.count != 1001 || s.maxNs != int64(time.Hour) {
		t.Fatalf("minute 5: count %d max %v, want 1001 and 1h", s.count, time.Duration(s.maxNs))
	}
	s = h.recentSnapshot(8)
	if s.count != 1000 || s.maxNs != int64(10*time.Millisecond) {
		t.Fatalf("minute 8: count %d max %v, want minute 3's 1000 and 10ms", s.count, time.Duration(s.maxNs))
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 5000}, {0.95, 9500}, {0.99, 9900}} {
		if got := s.quantile(c.q); (got-c.want)/c.want > 0.06 || (got-c.want)/c.want < -0.06 {
			t.Errorf("q%.2f = %v µs, want %v ± 6%%", c.q, got, c.want)
		}
	}
	if want := int64(1000*1001/2) * int64(10*time.Microsecond); s.sumNs != want {
		t.Errorf("sum %d, want %d", s.sumNs, want)
	}
	// Minute 9 reuses minute 3's slot: it starts empty.
	h.observe(time.Millisecond, 9)
	if s = h.recentSnapshot(9); s.count != 1 || s.maxNs != int64(time.Millisecond) {
		t.Fatalf("minute 9: count %d max %v, want 1 and 1ms", s.count, time.Duration(s.maxNs))
	}
	if s = h.recentSnapshot(15); s.count != 0 {
		t.Fatalf("minute 15: count %d, want 0", s.count)
	}
	// Since start, nothing is forgotten.
	if s = h.snapshot(); s.count != 1002 {
		t.Fatalf("since start: count %d, want 1002", s.count)
	}
}

func TestCoarseLayout(t *testing.T) {
	for c := 1; c < numCoarse; c++ {
		plo, pw := coarseRange(c - 1)
		lo, _ := coarseRange(c)
		if plo+pw != lo {
			t.Fatalf("gap between coarse buckets %d and %d", c-1, c)
		}
	}
	for _, v := range []uint64{0, 3, 31, 32, 100, 12345, 1 << 36} {
		lo, w := coarseRange(bucketOf(v) >> coarseShift)
		if v < lo || v >= lo+w {
			t.Errorf("v=%d outside its coarse bucket [%d, %d)", v, lo, lo+w)
		}
	}
}
