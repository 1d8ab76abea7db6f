package metrics

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestRecentSlotReuseRace: observers racing with a slot's reuse at a
// minute boundary never leave it inconsistent: whatever it counts, its
// sum is count times the one duration observed and its max is that
// duration (or zero with nothing counted), and it never counts more than
// was observed in its minute.
func TestRecentSlotReuseRace(t *testing.T) {
	const (
		workers = 4
		each    = 4
		d       = 7 * time.Millisecond
	)
	rounds := 3000
	if testing.Short() {
		rounds = 300
	}
	h := newHistogram(latencyBounds)
	for minute := int64(1); minute <= int64(rounds); minute++ {
		var start, wg sync.WaitGroup
		start.Add(1)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start.Wait()
				for i := range each {
					h.observe(d, minute)
					if i == 0 {
						runtime.Gosched()
					}
				}
			}()
		}
		start.Done()
		wg.Wait()
		s := h.recentSnapshot(minute)
		sl := &h.recent[minute%winSlots]
		var n uint64
		for j := range sl.counts {
			n += uint64(sl.counts[j].Load())
		}
		sum, mx := sl.sumNs.Load(), sl.maxNs.Load()
		if n > workers*each || sum != int64(n)*int64(d) || (n > 0) != (mx == int64(d)) || (n == 0 && mx != 0) {
			t.Fatalf("minute %d: slot counts %d, sum %v, max %v: inconsistent (each observation is %v)",
				minute, n, time.Duration(sum), time.Duration(mx), d)
		}
		if s.count < n || s.count > n+5*workers*each {
			t.Fatalf("minute %d: window counts %d, this minute %d", minute, s.count, n)
		}
	}
}
