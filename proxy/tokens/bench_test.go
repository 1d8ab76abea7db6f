package tokens

import (
	"hash/maphash"
	"testing"
)

const benchFixture = "cc-2.1.332-count-tokens-with-tools.json"

// BenchmarkCountCold tokenizes the 42 KB Claude Code count_tokens fixture
// (12 tools) on every iteration: caching disabled, codec already loaded.
func BenchmarkCountCold(b *testing.B) {
	body := readFixture(b, benchFixture)
	c := NewCounter(0)
	if err := c.Warm("gpt-5"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := c.Count(body, "gpt-5"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCountCached answers the same fixture from the cache.
func BenchmarkCountCached(b *testing.B) {
	body := readFixture(b, benchFixture)
	c := NewCounter(16)
	if _, err := c.Count(body, "gpt-5"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := c.Count(body, "gpt-5"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKey is the cache key (SHA-256) of the fixture; BenchmarkKeyMaphash
// is the 64-bit non-cryptographic alternative, for comparison.
func BenchmarkKey(b *testing.B) {
	body := readFixture(b, benchFixture)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		_ = keyFor(O200kBase, body)
	}
}

func BenchmarkKeyMaphash(b *testing.B) {
	body := readFixture(b, benchFixture)
	seed := maphash.MakeSeed()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		_ = maphash.Bytes(seed, body)
	}
}

// BenchmarkCodecLoad is what each further Counter pays per encoding once the
// process-wide vocabulary map exists (building that map, once per process and
// encoding, takes 100-300 ms and is not repeatable in a benchmark).
func BenchmarkCodecLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := NewCounter(0).Warm("gpt-5"); err != nil {
			b.Fatal(err)
		}
	}
}
