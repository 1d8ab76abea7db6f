package metrics

import (
	"sort"
	"sync"
	"sync/atomic"
)

// seriesKey identifies one request counter series.
type seriesKey struct {
	route     uint8
	status    uint16
	requested uint16
	resolved  uint16
	stream    bool
}

func (k seriesKey) pack() uint64 {
	s := uint64(0)
	if k.stream {
		s = 1
	}
	return uint64(k.route)<<56 | uint64(k.status)<<40 | uint64(k.requested)<<24 | uint64(k.resolved)<<8 | s
}

func unpack(p uint64) seriesKey {
	return seriesKey{
		route:     uint8(p >> 56),
		status:    uint16(p >> 40),
		requested: uint16(p >> 24),
		resolved:  uint16(p >> 8),
		stream:    p&1 == 1,
	}
}

// seriesSet is a copy-on-write map of counters: lookups are lock-free, and
// adding a new series (rare: labels are bounded) copies the map under a
// mutex.
type seriesSet struct {
	mu  sync.Mutex
	cur atomic.Pointer[map[uint64]*atomic.Int64]
}

func (s *seriesSet) init() {
	m := map[uint64]*atomic.Int64{}
	s.cur.Store(&m)
}

func (s *seriesSet) inc(key uint64) {
	if c, ok := (*s.cur.Load())[key]; ok {
		c.Add(1)
		return
	}
	s.mu.Lock()
	old := *s.cur.Load()
	c, ok := old[key]
	if !ok {
		next := make(map[uint64]*atomic.Int64, len(old)+1)
		for k, v := range old {
			next[k] = v
		}
		c = new(atomic.Int64)
		next[key] = c
		s.cur.Store(&next)
	}
	s.mu.Unlock()
	c.Add(1)
}

type seriesValue struct {
	key   seriesKey
	count int64
}

// values returns every series with its count, in key order.
func (s *seriesSet) values() []seriesValue {
	cur := *s.cur.Load()
	out := make([]seriesValue, 0, len(cur))
	for k, c := range cur {
		out = append(out, seriesValue{key: unpack(k), count: c.Load()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key.pack() < out[j].key.pack() })
	return out
}
