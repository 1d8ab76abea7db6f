package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestClearProfiles: an earlier run's profiles go, so the results
// directory holds only the profiles its report lists; anything else in it
// stays.
func TestClearProfiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"fasthttp-w2.pprof", "nethttp-h1-w1.pprof", "nethttp-h2-memory.heap.pprof",
		"report.md", "report.json", "chart.svg", "notes.pprof.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := clearProfiles(dir); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if want := []string{"chart.svg", "notes.pprof.txt", "report.json", "report.md"}; !slices.Equal(left, want) {
		t.Fatalf("left %v, want %v", left, want)
	}
}
