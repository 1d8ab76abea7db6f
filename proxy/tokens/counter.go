package tokens

import (
	"fmt"

	"github.com/tiktoken-go/tokenizer"
)

// Counter counts the input tokens of Anthropic count_tokens request bodies
// offline with tiktoken encodings, caching results by content hash. The zero
// value is not usable; create one with NewCounter. A Counter is safe for
// concurrent use.
type Counter struct {
	o200k  lazyCodec
	cl100k lazyCodec
	cache  *lru
}

// NewCounter returns a Counter whose result cache holds at most maxEntries
// counts, evicting the least recently used; maxEntries <= 0 disables caching.
// Each cached result costs about 150 bytes. Codecs are loaded on first use (or
// by Warm), once per encoding.
func NewCounter(maxEntries int) *Counter {
	return &Counter{
		o200k:  lazyCodec{enc: tokenizer.O200kBase},
		cl100k: lazyCodec{enc: tokenizer.Cl100kBase},
		cache:  newLRU(maxEntries),
	}
}

// Count returns the estimated number of input tokens the upstream model
// upstreamModel will see for body, an Anthropic POST /v1/messages/count_tokens
// (or /v1/messages) request JSON. The body's own "model" field is ignored: the
// count is for the upstream the request is routed to. What is counted and every
// estimate used are described in the package documentation.
//
// Invalid input (not a JSON object, "messages" missing or not an array, a
// message or content block of the wrong shape) yields an *InvalidRequestError.
// Results are cached by SHA-256 of encoding and body; errors are not cached.
func (c *Counter) Count(body []byte, upstreamModel string) (int, error) {
	enc := EncodingFor(upstreamModel)
	key := keyFor(enc, body)
	if n, ok := c.cache.get(key); ok {
		return n, nil
	}
	codec, err := c.codec(enc)
	if err != nil {
		return 0, err
	}
	n, err := countRequest(codec, enc, body)
	if err != nil {
		return 0, err
	}
	c.cache.put(key, n)
	return n, nil
}

// Warm loads the codec upstreamModel uses, so that the first Count does not pay
// for building the vocabulary (100-300 ms once per process and encoding; the
// map then holds about 8 MB for o200k_base). Calling it is optional, for example in
// a goroutine at start-up.
func (c *Counter) Warm(upstreamModel string) error {
	_, err := c.codec(EncodingFor(upstreamModel))
	return err
}

// CacheStats returns a snapshot of the result cache counters.
func (c *Counter) CacheStats() CacheStats {
	return c.cache.stats()
}

func (c *Counter) codec(enc Encoding) (tokenizer.Codec, error) {
	l := &c.o200k
	if enc == Cl100kBase {
		l = &c.cl100k
	}
	codec, err := l.get()
	if err != nil {
		return nil, fmt.Errorf("tokens: load %s: %w", enc, err)
	}
	return codec, nil
}
