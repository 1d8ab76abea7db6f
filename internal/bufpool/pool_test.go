package bufpool

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
	"unsafe"
)

func TestClassSize(t *testing.T) {
	for _, c := range []struct{ n, want int }{
		{-1, 64 << 10}, {0, 64 << 10}, {1, 64 << 10}, {55 << 10, 64 << 10}, {64 << 10, 64 << 10},
		{64<<10 + 1, 96 << 10}, {150 << 10, 192 << 10}, {1 << 20, 1 << 20}, {1<<20 + 1, 0},
	} {
		if got := ClassSize(c.n); got != c.want {
			t.Errorf("ClassSize(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

func base(b *[]byte) *byte { return unsafe.SliceData((*b)[:cap(*b)]) }

func TestGetPutReuse(t *testing.T) {
	p := New(4, time.Hour, 0)
	defer p.Close()
	b := p.Get(55 << 10)
	if len(*b) != 0 || cap(*b) != 64<<10 {
		t.Fatalf("Get(55 KiB): len %d cap %d, want 0 and 64 KiB", len(*b), cap(*b))
	}
	mem := base(b)
	*b = append(*b, make([]byte, 60<<10)...) // fits: same storage
	if s := p.Stats(); s.InUse != 64<<10 || s.Idle != 0 {
		t.Fatalf("after Get: %+v", s)
	}
	if !p.Put(b) {
		t.Fatal("Put refused a handle Get returned")
	}
	if s := p.Stats(); s.InUse != 0 || s.Idle != 64<<10 {
		t.Fatalf("after Put: %+v", s)
	}
	c := p.Get(-1)
	if c != b || base(c) != mem || len(*c) != 0 {
		t.Fatal("Get after Put did not hand out the buffer put back, emptied")
	}
	d := p.Get(100 << 10)
	if cap(*d) != 128<<10 || base(d) == mem {
		t.Fatalf("Get(100 KiB): cap %d (want 128 KiB, a new buffer)", cap(*d))
	}
	if p.Get(MaxSize+1) != nil {
		t.Fatal("Get above MaxSize returned a buffer")
	}
	p.Put(c)
	p.Put(d)
}

func TestPutIgnoresForeignHandles(t *testing.T) {
	p := New(4, time.Hour, 0)
	defer p.Close()
	foreign := make([]byte, 10, 64<<10)
	if p.Put(&foreign) || p.Put(nil) {
		t.Fatal("Put took a handle the pool never handed out")
	}
	if s := p.Stats(); s != (Stats{}) {
		t.Fatalf("foreign Puts changed the pool: %+v", s)
	}
	// A buffer grown past its class by append is a heap slice now: Put
	// restores the handle to its own buffer.
	b := p.Get(1)
	mem := base(b)
	*b = append(*b, make([]byte, 200<<10)...)
	if base(b) == mem {
		t.Fatal("test setup: append did not move the data")
	}
	if !p.Put(b) {
		t.Fatal("Put refused a grown handle")
	}
	if base(b) != mem || len(*b) != 0 || cap(*b) != 64<<10 {
		t.Fatal("Put did not restore the grown handle to its buffer")
	}
	if s := p.Stats(); s.InUse != 0 || s.Idle != 64<<10 {
		t.Fatalf("after the grown Put: %+v", s)
	}
}

func TestTrimKeepsRecentAndReleasesOld(t *testing.T) {
	p := New(2, time.Hour, 0)
	defer p.Close()
	var bufs []*[]byte
	for range 6 {
		b := p.Get(64 << 10)
		*b = (*b)[:cap(*b)]
		for i := range *b {
			(*b)[i] = 0xAB
		}
		bufs = append(bufs, b)
	}
	for _, b := range bufs {
		p.Put(b)
	}
	if more := p.Trim(time.Since(p.epoch) + time.Second); more {
		t.Fatal("Trim reported idle buffers beyond keep after releasing them all")
	}
	s := p.Stats()
	if s.Idle != 2*64<<10 || s.Released != 4*64<<10 || s.InUse != 0 {
		t.Fatalf("after Trim: %+v, want 2 idle and 4 released", s)
	}
	// The most recently put (the last two) stay; Get hands them out first,
	// then the released ones.
	for i := 5; i >= 4; i-- {
		if g := p.Get(1); g != bufs[i] {
			t.Fatalf("Get %d: not the most recent kept buffer", 5-i)
		}
	}
	for range 4 {
		g := p.Get(1)
		found := false
		for _, b := range bufs[:4] {
			found = found || g == b
		}
		if !found {
			t.Fatal("Get did not reuse a released buffer before mapping a new one")
		}
		if mapsMemory {
			if m := (*g)[:cap(*g)]; m[0] != 0 || m[len(m)-1] != 0 {
				t.Fatal("a released mapping still holds its old bytes")
			}
		}
	}
}

func TestTrimSparesYoungBuffers(t *testing.T) {
	p := New(0, time.Hour, 0)
	defer p.Close()
	a, b := p.Get(1), p.Get(1)
	p.Put(a)
	cut := time.Since(p.epoch) + time.Nanosecond
	for time.Since(p.epoch) <= cut { // b's put time must be after cut
	}
	p.Put(b)
	if more := p.Trim(cut); !more {
		t.Fatal("Trim reported nothing left though a young buffer stays")
	}
	if s := p.Stats(); s.Released != 64<<10 || s.Idle != 64<<10 {
		t.Fatalf("after Trim: %+v, want a released and b idle", s)
	}
}

func TestTimerTrims(t *testing.T) {
	p := New(1, 5*time.Millisecond, 0)
	defer p.Close()
	var bufs []*[]byte
	for range 3 {
		bufs = append(bufs, p.Get(200<<10))
	}
	for _, b := range bufs {
		p.Put(b)
	}
	deadline := time.Now().Add(10 * time.Second) // a hang guard, not a timing assertion
	for p.Stats().Released != 2*256<<10 {
		if time.Now().After(deadline) {
			t.Fatalf("the timer never trimmed: %+v", p.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	if s := p.Stats(); s.Idle != 256<<10 {
		t.Fatalf("keep=1 not honoured: %+v", s)
	}
}

func TestConcurrentUse(t *testing.T) {
	p := New(2, time.Millisecond, 0)
	defer p.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 300 {
				n := r.IntN(MaxSize)
				b := p.Get(n)
				if cap(*b) < n || len(*b) != 0 {
					t.Errorf("Get(%d) returned len %d cap %d", n, len(*b), cap(*b))
					return
				}
				*b = append(*b, byte(g))
				if r.IntN(10) == 0 {
					*b = append(*b, make([]byte, cap(*b))...) // grown onto the heap
				}
				if r.IntN(50) == 0 {
					p.Trim(time.Since(p.epoch))
				}
				if !p.Put(b) {
					t.Error("Put refused a handle Get returned")
					return
				}
			}
		}()
	}
	wg.Wait()
	if s := p.Stats(); s.InUse != 0 {
		t.Fatalf("buffers still in use after every Put: %+v", s)
	}
}

func BenchmarkGetPut(b *testing.B) {
	p := New(16, time.Second, 0)
	defer p.Close()
	b.ReportAllocs()
	for b.Loop() {
		p.Put(p.Get(55 << 10))
	}
}

// TestDoublePutIgnored: a handle put back twice is in the pool once, so
// two Gets never hand out the same buffer (two requests writing into one
// memory) and the in-use count stays right.
func TestDoublePutIgnored(t *testing.T) {
	p := New(4, time.Hour, 0)
	defer p.Close()
	b := p.Get(1)
	if !p.Put(b) {
		t.Fatal("Put refused a handle Get returned")
	}
	if p.Put(b) {
		t.Fatal("a second Put of the same handle was taken")
	}
	if s := p.Stats(); s.InUse != 0 || s.Idle != 64<<10 {
		t.Fatalf("after a double Put: %+v, want one idle buffer", s)
	}
	x, y := p.Get(1), p.Get(1)
	if x == y || base(x) == base(y) {
		t.Fatal("two Gets handed out the same buffer")
	}
	// A handle being released by Trim is not in use either: its Put is
	// refused too.
	p.Put(x)
	p.Put(y)
	p.Trim(time.Since(p.epoch) + time.Second) // keep 4: nothing released
	if p.Put(x) || p.Put(y) {
		t.Fatal("Put of an idle handle was taken")
	}
	p2 := New(0, time.Hour, 0)
	defer p2.Close()
	z := p2.Get(1)
	p2.Put(z)
	p2.Trim(time.Since(p2.epoch) + time.Second) // released
	if p2.Put(z) {
		t.Fatal("Put of a released handle was taken")
	}
	if s := p2.Stats(); s.Idle != 0 || s.InUse != 0 {
		t.Fatalf("after a Put of a released handle: %+v", s)
	}
	if a, b := p2.Get(1), p2.Get(1); a == b {
		t.Fatal("a released buffer was handed out twice")
	}
}

// TestPutFindsReassignedHandle: a caller that set *b to a smaller slice
// (or nil) still gives its buffer back; it used to be looked up in the
// classes up to cap(*b) only, and stayed in use for ever.
func TestPutFindsReassignedHandle(t *testing.T) {
	p := New(4, time.Hour, 0)
	defer p.Close()
	for _, set := range []func(*[]byte){
		func(b *[]byte) { *b = nil },
		func(b *[]byte) { *b = make([]byte, 0, 70<<10) },
		func(b *[]byte) { *b = (*b)[:10:10] },
	} {
		b := p.Get(500 << 10)
		mem := base(b)
		set(b)
		if !p.Put(b) {
			t.Fatal("Put refused a handle whose slice was reassigned")
		}
		if base(b) != mem || cap(*b) != 512<<10 || len(*b) != 0 {
			t.Fatal("Put did not restore the reassigned handle to its buffer")
		}
	}
	if s := p.Stats(); s.InUse != 0 || s.Idle != 512<<10 {
		t.Fatalf("after the Puts: %+v, want one idle 512 KiB buffer", s)
	}
}

// TestKeptBuffersGoWhenIdle: the keep floor spares buffers from the short
// idle limit only; after keepIdle they go too, so an idle process holds
// nothing.
func TestKeptBuffersGoWhenIdle(t *testing.T) {
	p := New(2, 5*time.Millisecond, 40*time.Millisecond)
	defer p.Close()
	var bufs []*[]byte
	for range 3 {
		bufs = append(bufs, p.Get(1))
	}
	for _, b := range bufs {
		p.Put(b)
	}
	wait := func(what string, ok func(Stats) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second) // a hang guard, not a timing assertion
		for !ok(p.Stats()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %+v", what, p.Stats())
			}
			time.Sleep(time.Millisecond)
		}
	}
	wait("the surplus buffer was never released", func(s Stats) bool { return s.Released >= 64<<10 })
	wait("the kept buffers were never released", func(s Stats) bool { return s.Idle == 0 && s.Released == 3*64<<10 })
	// Reused, they are kept again.
	p.Put(p.Get(1))
	if s := p.Stats(); s.Idle != 64<<10 || s.Released != 2*64<<10 {
		t.Fatalf("after reuse: %+v", s)
	}
}

// TestKeepIdleZeroKeepsForever: with keepIdle 0 the kept buffers stay.
func TestKeepIdleZeroKeepsForever(t *testing.T) {
	p := New(2, time.Millisecond, 0)
	defer p.Close()
	a, b := p.Get(1), p.Get(1)
	p.Put(a)
	p.Put(b)
	p.trimTick() // what the timer would do, however late
	if s := p.Stats(); s.Idle != 2*64<<10 || s.Released != 0 {
		t.Fatalf("kept buffers released with keepIdle 0: %+v", s)
	}
}
