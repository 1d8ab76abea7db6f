//go:build !race

package bufpool

import (
	"testing"
	"time"
)

func TestGetPutAllocs(t *testing.T) {
	p := New(4, time.Hour, 0)
	defer p.Close()
	p.Put(p.Get(55 << 10)) // warm: the class's list has room
	if n := testing.AllocsPerRun(1000, func() { p.Put(p.Get(55 << 10)) }); n != 0 {
		t.Fatalf("Get+Put of a pooled buffer: %v allocations, want 0", n)
	}
}
