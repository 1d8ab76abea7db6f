package tokens

import (
	"container/list"
	"crypto/sha256"
	"sync"
)

// cacheKey identifies a result: the encoding and the SHA-256 of the body. A
// cryptographic hash makes a collision (two different bodies sharing a cached
// count) practically impossible even for crafted input, and hashing a 42 KB body
// costs ~1% of tokenizing it (see BenchmarkKey and BenchmarkCountCold).
type cacheKey struct {
	cl100k bool // encoding: cl100k_base, else o200k_base
	sum    [sha256.Size]byte
}

func keyFor(enc Encoding, body []byte) cacheKey {
	return cacheKey{cl100k: enc == Cl100kBase, sum: sha256.Sum256(body)}
}

type cacheEntry struct {
	key   cacheKey
	count int
}

// lru is a bounded least-recently-used map from cacheKey to a token count,
// safe for concurrent use. A nil *lru or max <= 0 caches nothing.
type lru struct {
	mu      sync.Mutex
	max     int
	order   *list.List // front = most recently used; values are *cacheEntry
	entries map[cacheKey]*list.Element
	hits    uint64
	misses  uint64
	evicted uint64
}

func newLRU(maxEntries int) *lru {
	if maxEntries <= 0 {
		return &lru{}
	}
	return &lru{
		max:     maxEntries,
		order:   list.New(),
		entries: make(map[cacheKey]*list.Element, min(maxEntries, 1024)),
	}
}

func (c *lru) get(k cacheKey) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max <= 0 {
		c.misses++
		return 0, false
	}
	el, ok := c.entries[k]
	if !ok {
		c.misses++
		return 0, false
	}
	c.hits++
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).count, true
}

func (c *lru) put(k cacheKey, count int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max <= 0 {
		return
	}
	if el, ok := c.entries[k]; ok { // a concurrent miss on the same body got here first
		el.Value.(*cacheEntry).count = count
		c.order.MoveToFront(el)
		return
	}
	c.entries[k] = c.order.PushFront(&cacheEntry{key: k, count: count})
	for c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
		c.evicted++
	}
}

// CacheStats is a snapshot of a Counter's result cache.
type CacheStats struct {
	Entries   int    // results held now
	Capacity  int    // maxEntries given to NewCounter (0: caching disabled)
	Hits      uint64 // Count calls answered from the cache
	Misses    uint64 // Count calls that tokenized (including failed ones)
	Evictions uint64 // results dropped to stay within Capacity
}

func (c *lru) stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := CacheStats{Capacity: c.max, Hits: c.hits, Misses: c.misses, Evictions: c.evicted}
	if c.order != nil {
		s.Entries = c.order.Len()
	}
	return s
}
