package proxy

import (
	"errors"
	"maps"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ccproxy/ccproxy/engine"
)

// MaxUpstreamKeys bounds how many upstream keys (Config.UpstreamKeys) a
// Handler takes: a request remembers the keys refused to it in one
// uint64.
const MaxUpstreamKeys = 64

// Default bench times of an upstream key (Config.KeyBench and
// Config.KeyRateLimitBench): a key the upstream refuses (401/403) is left
// out for 5 minutes, one that is rate limited (429) without a Retry-After
// for 10 seconds.
const (
	defaultKeyBench          = 5 * time.Minute
	defaultKeyRateLimitBench = 10 * time.Second
)

// upstreamKey is one of the configured upstream keys with the headers
// that carry it, built once and shared read-only (engines never modify a
// Request).
type upstreamKey struct {
	auth      []string    // {"Bearer <key>"}
	hdrStream http.Header // translated streamed requests
	hdrUnary  http.Header // translated unary requests
	// benchUntil (Unix nanoseconds) is when the key may be used again
	// after the upstream refused or rate limited it; 0 or past: usable.
	benchUntil atomic.Int64
}

// keyRing spreads requests over the upstream keys, round robin, skipping
// benched ones. The zero value (no key) picks nothing.
type keyRing struct {
	keys []upstreamKey
	// none carries the headers of a translated request without a key (a
	// local upstream that needs none: no Authorization header at all,
	// rather than an empty "Bearer").
	none upstreamKey
	next atomic.Uint64
}

// withHeaders sets k's translated-request headers, carrying auth (nil:
// no Authorization header).
func (k *upstreamKey) withHeaders(auth []string) {
	k.auth = auth
	k.hdrStream = http.Header{"Content-Type": {"application/json"}, "Accept": {"text/event-stream"}}
	k.hdrUnary = http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}}
	if auth != nil {
		k.hdrStream["Authorization"], k.hdrUnary["Authorization"] = auth, auth
	}
}

// newKeyRing builds the ring of keys (nil or empty: none). Keys must be
// non-empty, at most MaxUpstreamKeys.
func newKeyRing(keys []string) (*keyRing, error) {
	if len(keys) > MaxUpstreamKeys {
		return nil, errors.New("proxy: more than " + strconv.Itoa(MaxUpstreamKeys) + " upstream keys")
	}
	r := &keyRing{keys: make([]upstreamKey, len(keys))}
	r.none.withHeaders(nil)
	for i, k := range keys {
		if k == "" {
			// The error names the key's place, never a key.
			return nil, errors.New("proxy: upstream key " + strconv.Itoa(i+1) + " is empty")
		}
		r.keys[i].withHeaders([]string{"Bearer " + k})
	}
	return r, nil
}

// pick returns the index of the key for the next try, -1 without keys:
// the next in turn that is neither benched nor in tried (a bit per key
// already refused to this request); when there is none, the key whose
// bench ends first, preferring keys not in tried. A key is always
// returned: benching never refuses a request outright.
func (r *keyRing) pick(tried uint64) int {
	n := len(r.keys)
	switch n {
	case 0:
		return -1
	case 1:
		return 0
	}
	start := int((r.next.Add(1) - 1) % uint64(n)) // modulo first: int(counter) goes negative past 2^63
	now := time.Now().UnixNano()
	best, bestUntil, bestTried := -1, int64(0), true
	for j := range n {
		i := start + j
		if i >= n {
			i -= n
		}
		until := r.keys[i].benchUntil.Load()
		wasTried := tried&(1<<i) != 0
		if until <= now && !wasTried {
			return i
		}
		if best < 0 || (bestTried && !wasTried) || (bestTried == wasTried && until < bestUntil) {
			best, bestUntil, bestTried = i, until, wasTried
		}
	}
	return best
}

// available reports whether a key other than those in tried can be used
// now (not benched).
func (r *keyRing) available(tried uint64) bool {
	if len(r.keys) < 2 {
		return false
	}
	now := time.Now().UnixNano()
	for i := range r.keys {
		if tried&(1<<i) == 0 && r.keys[i].benchUntil.Load() <= now {
			return true
		}
	}
	return false
}

// bench leaves key i out for d (a single key is never benched: there is
// nothing to turn to). A bench never shortens a longer one already
// running (another request's 401 outlasts this one's 429), and one past
// what Unix nanoseconds hold lasts until then.
func (r *keyRing) bench(i int, d time.Duration) {
	if len(r.keys) < 2 || i < 0 {
		return
	}
	now := time.Now().UnixNano()
	until := now + int64(max(d, 0))
	if until < now {
		until = math.MaxInt64
	}
	b := &r.keys[i].benchUntil
	for {
		old := b.Load()
		if old >= until || b.CompareAndSwap(old, until) {
			return
		}
	}
}

// headerKind says how send puts a key into a request's headers.
type headerKind uint8

const (
	// hdrOwn: the request carries its own header map (the passthrough
	// routes); a try with another key than its Authorization says sends a
	// copy with that key's.
	hdrOwn headerKind = iota
	// hdrStream and hdrUnary: a translated request, whose headers are the
	// key's precomputed pair.
	hdrStream
	hdrUnary
)

// translatedHeader is the headerKind of a translated request.
func translatedHeader(stream bool) headerKind {
	if stream {
		return hdrStream
	}
	return hdrUnary
}

// useKey makes req carry key i (i < 0: no key) and records it in at: a
// translated request gets that key's precomputed headers, a request with
// its own header map (passthrough) that key's Authorization.
func (h *Handler) useKey(req *engine.Request, at *attempt, i int) {
	k := &h.ring.none
	if i >= 0 {
		at.Key = i + 1
		k = &h.ring.keys[i]
	}
	switch at.Header {
	case hdrStream:
		req.Header = k.hdrStream
	case hdrUnary:
		req.Header = k.hdrUnary
	case hdrOwn:
		if i < 0 {
			return
		}
		if a := req.Header["Authorization"]; len(a) == 1 && a[0] == k.auth[0] {
			return
		}
		// The map may be shared or still read by an earlier try's
		// caller: a copy carries the other key.
		hd := maps.Clone(req.Header)
		if hd == nil {
			hd = make(http.Header, 1)
		}
		hd["Authorization"] = k.auth
		req.Header = hd
	}
}

// keyRefused handles an upstream's 401/403/429 to key i (the try's key,
// -1 without keys): the key is benched (401/403 for KeyBench; 429 for its
// Retry-After, at most KeyBench, or KeyRateLimitBench) and marked tried
// for this request. It reports whether another key can take the request
// at once.
func (h *Handler) keyRefused(at *attempt, i, status int, retryAfter string) bool {
	if i < 0 || len(h.ring.keys) < 2 {
		return false
	}
	d := h.cfg.KeyBench
	if status == http.StatusTooManyRequests {
		d = h.cfg.KeyRateLimitBench
		if ra, ok := parseRetryAfter(retryAfter, time.Now()); ok {
			d = min(ra, h.cfg.KeyBench)
		}
	}
	h.ring.bench(i, d)
	at.tried |= 1 << i
	next := h.ring.available(at.tried)
	// The key's index, never the key.
	h.log.Warn().Int("key", i+1).Int("keys", len(h.ring.keys)).Int("status", status).
		Dur("benched_for", d).Bool("next_key", next).Msg("upstream refused an upstream key: benched")
	return next
}
