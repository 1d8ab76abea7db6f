package main

import (
	"math"
	"os/exec"
	"runtime"
	"testing"
	"time"
)

func TestParseCPUAccount(t *testing.T) {
	stat := "cpu  100 5 50 1000 20 3 2 7 0 0\ncpu0 50 2 25 500 10 1 1 3 0 0\n"
	self := "4242 (cc bench) R 1 2 3 4 5 6 7 8 9 10 30 12 40 13 20 0 1\n"
	a, err := parseCPUAccount(stat, self)
	if err != nil {
		t.Fatal(err)
	}
	// busy = user+nice+system+irq+softirq; self = utime+stime+cutime+cstime.
	if a.busy != 160 || a.steal != 7 || a.total != 1187 || a.self != 30+12+40+13 {
		t.Fatalf("%+v", a)
	}
	for _, bad := range []string{"intr 1 2 3\n", "cpu 1 2 x 4 5 6 7 8\n", "cpu 1 2\n"} {
		if _, err := parseCPUAccount(bad, self); err == nil {
			t.Errorf("parsed /proc/stat %q", bad)
		}
	}
	if _, err := parseCPUAccount(stat, "4242 (x) R 1 2\n"); err == nil {
		t.Error("parsed a short /proc/self/stat")
	}
}

func TestOtherWork(t *testing.T) {
	a := cpuAccount{busy: 1000, steal: 10, total: 5000, self: 400}
	// 2,000 ticks pass: 1,500 busy, 300 of them ours, 100 stolen.
	b := cpuAccount{busy: 2500, steal: 110, total: 7000, self: 700}
	other, steal, ok := otherWork(a, b)
	if !ok || math.Abs(other-0.6) > 1e-9 || math.Abs(steal-0.05) > 1e-9 {
		t.Fatalf("other %v steal %v ok %v", other, steal, ok)
	}
	if _, _, ok := otherWork(b, a); ok {
		t.Fatal("a reading taken before the first one accepted")
	}
}

// TestOwnCPUIsNotOtherWork: CPU this process burns, and a child's (and
// its children's) once it has been waited for, count as the benchmark's
// own, not as other work. Bounded: about 0.5 s of CPU.
func TestOwnCPUIsNotOtherWork(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	a, err := readCPUAccount()
	if err != nil {
		t.Fatal(err)
	}
	// Spin until this process has used 300 ms of CPU (ticks are 10 ms), not
	// for a wall time: a loaded machine would give the spin less CPU.
	var b cpuAccount
	for deadline := time.Now().Add(10 * time.Second); ; {
		spin(20 * time.Millisecond)
		if b, err = readCPUAccount(); err != nil {
			t.Fatal(err)
		}
		if b.self-a.self >= 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("own CPU grew %d ticks in 10 s of spinning", b.self-a.self)
		}
	}
	// A child that counts to 300,000 in sh (a fixed amount of CPU, ~0.5 s
	// here): its CPU reaches ours when it is waited for.
	cmd := exec.Command("sh", "-c", `i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done`)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	c, err := readCPUAccount()
	if err != nil {
		t.Fatal(err)
	}
	if c.self-b.self < 5 {
		t.Fatalf("a waited-for child's busy loop added %d ticks to our own CPU", c.self-b.self)
	}
	if other, _, ok := otherWork(a, c); !ok || other < 0 || other > 1 {
		t.Fatalf("other work %v (ok %v)", other, ok)
	}
}

func spin(d time.Duration) {
	end := time.Now().Add(d)
	for x := 0; time.Now().Before(end); x++ {
		_ = x * x
	}
}
