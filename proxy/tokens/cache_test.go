package tokens

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
)

func TestCacheHitsAndSharing(t *testing.T) {
	c := NewCounter(8)
	body := []byte(`{"messages":[{"role":"user","content":"hello world"}]}`)
	first, err := c.Count(body, "gpt-5")
	if err != nil {
		t.Fatal(err)
	}
	for _, model := range []string{"gpt-5", "gpt-4o-mini", "some-unknown-model"} { // all o200k_base
		n, err := c.Count(body, model)
		if err != nil || n != first {
			t.Fatalf("%s: cached Count = %d, %v; want %d", model, n, err, first)
		}
	}
	if s := c.CacheStats(); s.Hits != 3 || s.Misses != 1 || s.Entries != 1 || s.Capacity != 8 {
		t.Fatalf("stats after 1 miss + 3 hits: %+v", s)
	}
	if _, err := c.Count(body, "gpt-4"); err != nil { // cl100k_base: its own entry
		t.Fatal(err)
	}
	// A one-byte change is a different entry.
	if _, err := c.Count([]byte(`{"messages":[{"role":"user","content":"hello World"}]}`), "gpt-5"); err != nil {
		t.Fatal(err)
	}
	if s := c.CacheStats(); s.Hits != 3 || s.Misses != 3 || s.Entries != 3 {
		t.Fatalf("stats: %+v", s)
	}
}

func TestCacheLRUEviction(t *testing.T) {
	c := NewCounter(2)
	body := func(s string) []byte { return []byte(`{"messages":[{"role":"user","content":"` + s + `"}]}`) }
	count := func(s string) {
		t.Helper()
		if _, err := c.Count(body(s), "gpt-5"); err != nil {
			t.Fatal(err)
		}
	}
	count("a") // miss
	count("b") // miss
	count("a") // hit: a is now most recent
	count("c") // miss, evicts b
	if s := c.CacheStats(); s.Hits != 1 || s.Misses != 3 || s.Evictions != 1 || s.Entries != 2 {
		t.Fatalf("after a b a c: %+v", s)
	}
	count("a") // still cached
	if s := c.CacheStats(); s.Hits != 2 {
		t.Fatalf("a was evicted instead of b: %+v", s)
	}
	count("b") // evicted: miss, evicts c
	if s := c.CacheStats(); s.Misses != 4 || s.Evictions != 2 || s.Entries != 2 {
		t.Fatalf("b should have been evicted: %+v", s)
	}
}

func TestCacheDisabled(t *testing.T) {
	c := NewCounter(0)
	body := []byte(`{"messages":[{"role":"user","content":"hello world"}]}`)
	for range 3 {
		if n, err := c.Count(body, "gpt-5"); err != nil || n != 9 {
			t.Fatalf("Count = %d, %v", n, err)
		}
	}
	if s := c.CacheStats(); s.Hits != 0 || s.Misses != 3 || s.Entries != 0 || s.Capacity != 0 {
		t.Fatalf("disabled cache: %+v", s)
	}
}

// Concurrent counts over a churning cache agree with serial counts.
func TestCountConcurrent(t *testing.T) {
	bodies := make([][]byte, 5)
	for i := range bodies {
		b, _ := json.Marshal(req([]any{user(fmt.Sprintf("message number %d with some words", i))},
			"tools", []any{map[string]any{"name": fmt.Sprintf("T%d", i), "description": "d", "input_schema": map[string]any{"type": "object"}}}))
		bodies[i] = b
	}
	models := []string{"gpt-5", "gpt-4"}
	want := map[string]int{}
	serial := NewCounter(0)
	for i, b := range bodies {
		for _, m := range models {
			n, err := serial.Count(b, m)
			if err != nil {
				t.Fatal(err)
			}
			want[fmt.Sprint(i, m)] = n
		}
	}
	c := NewCounter(3) // smaller than the 10 distinct keys: hits, misses and evictions interleave
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for k := range 20 {
				i, m := (g+k)%len(bodies), models[(g+k)%len(models)]
				n, err := c.Count(bodies[i], m)
				if err == nil && n != want[fmt.Sprint(i, m)] {
					err = fmt.Errorf("body %d %s: %d, want %d", i, m, n, want[fmt.Sprint(i, m)])
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s := c.CacheStats(); s.Hits+s.Misses != 160 || s.Entries > 3 {
		t.Errorf("stats: %+v", s)
	}
}

func TestWarm(t *testing.T) {
	c := NewCounter(1)
	for _, m := range []string{"gpt-5", "gpt-4"} {
		if err := c.Warm(m); err != nil {
			t.Fatalf("Warm(%s): %v", m, err)
		}
	}
}
