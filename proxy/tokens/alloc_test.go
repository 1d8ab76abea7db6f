//go:build !race

package tokens

import "testing"

// A cache hit allocates nothing: SHA-256 of the body into a fixed-size key, a
// locked map lookup.
func TestCachedCountAllocs(t *testing.T) {
	body := readFixture(t, benchFixture)
	c := NewCounter(4)
	want, err := c.Count(body, "gpt-5")
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(50, func() {
		if n, err := c.Count(body, "gpt-5"); err != nil || n != want {
			t.Fatalf("Count = %d, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("cached Count: %v allocs/op, want 0", allocs)
	}
}
