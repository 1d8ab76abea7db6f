package fakeupstream

import (
	"sync"
	"sync/atomic"
)

// counters backs Stats. HTTP/1.1 and HTTP/2.0 have lock-free counters;
// any other protocol string goes into a map under a mutex.
type counters struct {
	requests, streams, canceled, conns atomic.Int64
	h1, h2                             atomic.Int64
	mu                                 sync.Mutex
	other                              map[string]int64
}

func (c *counters) request(proto string) {
	c.requests.Add(1)
	switch proto {
	case "HTTP/1.1":
		c.h1.Add(1)
	case "HTTP/2.0":
		c.h2.Add(1)
	default:
		c.mu.Lock()
		if c.other == nil {
			c.other = make(map[string]int64)
		}
		c.other[proto]++
		c.mu.Unlock()
	}
}

func (c *counters) snapshot() Stats {
	st := Stats{
		Requests:      c.requests.Load(),
		Streams:       c.streams.Load(),
		Canceled:      c.canceled.Load(),
		ConnsAccepted: c.conns.Load(),
		ByProto:       make(map[string]int64),
	}
	if n := c.h1.Load(); n > 0 {
		st.ByProto["HTTP/1.1"] = n
	}
	if n := c.h2.Load(); n > 0 {
		st.ByProto["HTTP/2.0"] = n
	}
	c.mu.Lock()
	for k, v := range c.other {
		st.ByProto[k] = v
	}
	c.mu.Unlock()
	return st
}

// recordRing is how many requests the server remembers.
const recordRing = 64

// recorder is a bounded ring of requests. Slots keep their body buffers so
// that recording allocates nothing once the ring has warmed up.
type recorder struct {
	mu    sync.Mutex
	slots []Recorded
	next  int // index of the slot to write next
	n     int // number of valid slots
}

func (r *recorder) init(size int) { r.slots = make([]Recorded, size) }

// add records a request. header is retained as is (net/http gives each
// request its own map and nothing mutates it); body is copied.
func (r *recorder) add(method, path, proto string, header map[string][]string, body []byte) {
	r.mu.Lock()
	sl := &r.slots[r.next]
	sl.Method, sl.Path, sl.Proto, sl.Header = method, path, proto, header
	sl.Body = append(sl.Body[:0], body...)
	r.next = (r.next + 1) % len(r.slots)
	if r.n < len(r.slots) {
		r.n++
	}
	r.mu.Unlock()
}

func (r *recorder) last() Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		return Recorded{}
	}
	return r.slots[(r.next-1+len(r.slots))%len(r.slots)].clone()
}

func (r *recorder) all() []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Recorded, 0, r.n)
	start := (r.next - r.n + len(r.slots)) % len(r.slots)
	for i := 0; i < r.n; i++ {
		out = append(out, r.slots[(start+i)%len(r.slots)].clone())
	}
	return out
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.n, r.next = 0, 0
	r.mu.Unlock()
}
