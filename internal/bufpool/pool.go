// Package bufpool pools large byte buffers (request bodies and their
// translations, 64 KiB and up) outside the Go heap, and gives the memory
// of buffers that stayed idle back to the operating system.
//
// Why not sync.Pool: a burst of requests takes many body-sized buffers at
// once. In the Go heap they then do two kinds of harm after the burst. The
// pool keeps them until two collections have passed, and a collection is
// rare once the burst is over (a thousand open streams allocate little).
// And while they are live they count in the heap the collector paces
// itself on, so its goal doubles them. The harness's memory scenario
// (1,000 Claude Code streams opened at once; bench/README.md) settles at
// 73.7 MB of RSS with sync.Pool (commit 717cfef) and at 60 MB with this
// pool, on a fresh process with the fasthttp engine.
//
// Buffers here are anonymous memory mappings (on Unix; elsewhere plain heap
// slices, dropped to the collector when trimmed). The pool keeps those put
// back in a last-in-first-out list per size class, so the buffers in use
// under steady load are the same few hot ones. A buffer that has stayed in
// the list for idle, beyond the keep most recent ones of its class, is
// released, and so are those keep once idle for keepIdle (see New).
// Releasing is madvise(MADV_DONTNEED): the pages go back at once and the
// mapping is kept for reuse, so a stale reference reads zeros instead of
// crashing the process. Reusing a released buffer faults its pages in
// again, which on a virtual machine can cost far more than copying the
// body (over ten microseconds per 4 KiB page on the development VM,
// BenchmarkReleaseRefault): that is why only buffers idle for a while are released,
// never one the current load keeps using.
//
// The pool has no goroutine of its own: a timer runs a trim pass only
// while idle buffers exist. Close stops it.
package bufpool

import (
	"sync"
	"time"
)

// Classes are the buffer sizes, in increasing order: steps of about 1.5x
// from 64 KiB to 1 MiB, so a body of any size up to 1 MiB wastes at most a
// third of its buffer.
var Classes = [...]int{64 << 10, 96 << 10, 128 << 10, 192 << 10, 256 << 10, 384 << 10, 512 << 10, 768 << 10, 1 << 20}

// MaxSize is the largest buffer the pool hands out.
const MaxSize = 1 << 20

// ClassSize returns the size of the buffer Get(n) returns: the smallest
// class that holds n bytes (the smallest class for n < 0, unknown), or 0
// when n exceeds MaxSize.
func ClassSize(n int) int {
	if i := classOf(n); i >= 0 {
		return Classes[i]
	}
	return 0
}

func classOf(n int) int {
	for i, c := range Classes {
		if n <= c {
			return i
		}
	}
	return -1
}

// Pool is a set of buffer pools, one per size class. The zero value is not
// usable; use New.
type Pool struct {
	keep     int
	idle     time.Duration
	keepIdle time.Duration // 0: the kept ones stay for ever
	classes  [len(Classes)]class
	epoch    time.Time // monotonic base of the put times

	tmu      sync.Mutex
	timer    *time.Timer
	armed    bool
	deadline time.Duration // when the armed timer fires, since epoch
	closed   bool
}

type class struct {
	mu    sync.Mutex
	size  int
	free  []entry                 // put back, most recent last
	cold  []*allocation           // released (pages returned to the OS), reused before mapping more
	owned map[*[]byte]*allocation // every buffer handed out, by its handle
	inUse int
}

type entry struct {
	a  *allocation
	at time.Duration // since Pool.epoch
}

// allocation is a handle and the memory behind it.
type allocation struct {
	h      *[]byte
	mem    []byte
	mapped bool // a mapping (else a heap slice)
	out    bool // handed out by Get and not put back since
}

// New returns a pool that releases an idle buffer once it has been idle
// for idle (which must be positive), except for the keep most recently put
// back of each class, which stay resident until they have been idle for
// keepIdle (0: for ever). A steady load thus never refaults its buffers,
// the surplus of a burst goes soon after it, and an idle process gives back
// the rest.
func New(keep int, idle, keepIdle time.Duration) *Pool {
	p := &Pool{keep: max(keep, 0), idle: idle, keepIdle: max(keepIdle, 0), epoch: time.Now()}
	for i := range p.classes {
		p.classes[i].size = Classes[i]
		p.classes[i].owned = make(map[*[]byte]*allocation)
	}
	p.timer = time.AfterFunc(time.Hour, p.trimTick)
	p.timer.Stop()
	return p
}

// Get returns the handle of an empty buffer with room for at least n bytes
// (n < 0: unknown, the smallest class), or nil when n exceeds MaxSize: the
// caller then allocates one itself. The caller may append to *b (growing
// it past its capacity moves the data to the heap) and gives b back with
// Put, which restores it.
func (p *Pool) Get(n int) *[]byte {
	i := classOf(n)
	if i < 0 {
		return nil
	}
	c := &p.classes[i]
	c.mu.Lock()
	c.inUse++
	if k := len(c.free); k > 0 {
		a := c.free[k-1].a
		c.free[k-1] = entry{}
		c.free = c.free[:k-1]
		a.out = true
		c.mu.Unlock()
		return a.h
	}
	if k := len(c.cold); k > 0 {
		a := c.cold[k-1]
		c.cold[k-1] = nil
		c.cold = c.cold[:k-1]
		a.out = true
		c.mu.Unlock()
		return a.h
	}
	c.mu.Unlock()
	mem, mapped := mapMem(c.size)
	a := &allocation{h: new([]byte), mem: mem, mapped: mapped, out: true}
	*a.h = mem[:0]
	c.mu.Lock()
	c.owned[a.h] = a
	c.mu.Unlock()
	return a.h
}

// Put gives back a handle Get returned, restoring *b to its buffer
// whatever the caller set it to, and reports true; for anything else (nil,
// a handle this pool did not hand out, one already put back) it does
// nothing and reports false, so a caller may offer any handle. The buffer
// must not be used after Put.
func (p *Pool) Put(b *[]byte) bool {
	if b == nil {
		return false
	}
	at := time.Since(p.epoch)
	// The handle's class is most likely that of cap(*b), or a smaller one
	// if the caller grew *b past its buffer; a caller that set *b to
	// something smaller makes the other classes worth a look too.
	guess := classOf(cap(*b))
	if guess < 0 {
		guess = len(p.classes) - 1
	}
	for k := range len(p.classes) {
		i := guess - k
		if i < 0 {
			i += len(p.classes)
		}
		c := &p.classes[i]
		c.mu.Lock()
		a, ok := c.owned[b]
		if !ok || !a.out {
			c.mu.Unlock()
			if ok {
				return false // put back already (idle, or being released)
			}
			continue
		}
		a.out = false
		*b = a.mem[:0]
		c.inUse--
		c.free = append(c.free, entry{a: a, at: at})
		surplus := len(c.free) > p.keep
		c.mu.Unlock()
		switch {
		case surplus:
			p.arm(at + p.idle)
		case p.keepIdle > 0:
			p.arm(at + p.keepIdle)
		}
		return true
	}
	return false
}

// arm makes a trim pass run at the instant when (since epoch), unless one
// is due sooner.
func (p *Pool) arm(when time.Duration) {
	p.tmu.Lock()
	if !p.closed && (!p.armed || when < p.deadline) {
		p.armed, p.deadline = true, when
		p.timer.Reset(max(when-time.Since(p.epoch), time.Millisecond))
	}
	p.tmu.Unlock()
}

func (p *Pool) trimTick() {
	p.tmu.Lock()
	p.armed = false
	p.tmu.Unlock()
	now := time.Since(p.epoch)
	keepCutoff := time.Duration(-1) // no kept buffer is old enough
	if p.keepIdle > 0 {
		keepCutoff = now - p.keepIdle
	}
	more, oldest, any := p.trim(now-p.idle, keepCutoff)
	switch {
	case more:
		p.arm(now + p.idle)
	case any && p.keepIdle > 0:
		p.arm(oldest + p.keepIdle)
	}
}

// Trim releases every buffer put back before the instant cutoff (measured
// like the put times, from the pool's creation) that is not among the Keep
// most recent of its class. It reports whether idle buffers beyond Keep
// remain (younger than cutoff). The timer calls it; tests may too.
func (p *Pool) Trim(cutoff time.Duration) (more bool) {
	more, _, _ = p.trim(cutoff, -1)
	return more
}

// trim releases the idle buffers put back before cutoff that are not
// among the Keep most recent of their class, and those put back before
// keepCutoff whatever their rank. It reports whether idle buffers beyond
// Keep remain, and whether any remain (any) with the oldest one's put time.
func (p *Pool) trim(cutoff, keepCutoff time.Duration) (more bool, oldest time.Duration, any bool) {
	for i := range p.classes {
		c := &p.classes[i]
		c.mu.Lock()
		n := 0 // the oldest n entries go (the list is in put order)
		for n < len(c.free) && c.free[n].at < cutoff && (n < len(c.free)-p.keep || c.free[n].at < keepCutoff) {
			n++
		}
		if n == 0 {
			more = more || len(c.free) > p.keep
			if len(c.free) > 0 && (!any || c.free[0].at < oldest) {
				oldest, any = c.free[0].at, true
			}
			c.mu.Unlock()
			continue
		}
		old := make([]*allocation, n)
		for j := range n {
			old[j] = c.free[j].a
		}
		k := copy(c.free, c.free[n:])
		clear(c.free[k:])
		c.free = c.free[:k]
		more = more || len(c.free) > p.keep
		if len(c.free) > 0 && (!any || c.free[0].at < oldest) {
			oldest, any = c.free[0].at, true
		}
		for _, a := range old {
			if !a.mapped {
				delete(c.owned, a.h) // a heap slice: the collector's now
			}
		}
		c.mu.Unlock()
		// Release outside the lock (madvise takes a while); Get cannot
		// find these buffers until they are in the cold list, and Put
		// refuses them (they are not out).
		for _, a := range old {
			if a.mapped {
				release(a.mem)
			}
		}
		c.mu.Lock()
		for _, a := range old {
			if a.mapped {
				c.cold = append(c.cold, a)
			}
		}
		c.mu.Unlock()
	}
	return more, oldest, any
}

// Stats is a snapshot of the pool.
type Stats struct {
	// InUse is the bytes of the buffers handed out and not yet put back.
	InUse int64
	// Idle is the bytes of the buffers put back and still resident.
	Idle int64
	// Released is the bytes of the buffers whose memory was given back to
	// the operating system (kept mapped, reused before mapping more).
	Released int64
}

// Stats returns a snapshot of the pool's buffers.
func (p *Pool) Stats() Stats {
	var s Stats
	for i := range p.classes {
		c := &p.classes[i]
		c.mu.Lock()
		sz := int64(c.size)
		s.InUse += int64(c.inUse) * sz
		s.Idle += int64(len(c.free)) * sz
		s.Released += int64(len(c.cold)) * sz
		c.mu.Unlock()
	}
	return s
}

// Close stops the trim timer. The pool stays usable (buffers are no longer
// released); its mappings live as long as the process.
func (p *Pool) Close() {
	p.tmu.Lock()
	p.closed = true
	p.timer.Stop()
	p.tmu.Unlock()
}
