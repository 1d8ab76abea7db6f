package proxy

import (
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestParseRetryAfterHuge: a Retry-After in seconds too large for a
// time.Duration is a very long wait, not a negative one (10^10 seconds
// overflowed to about -292 years: send retried at once instead of handing
// the Retry-After to the client, and a key was not benched at all).
func TestParseRetryAfterHuge(t *testing.T) {
	now := time.Now()
	for _, v := range []string{"10000000000", "9223372036854775807", "99999999999999999999999"} {
		d, ok := parseRetryAfter(v, now)
		if !ok || d < 100*365*24*time.Hour {
			t.Errorf("Retry-After %s: %v %v, want a very long wait", v, d, ok)
		}
	}
	for v, want := range map[string]time.Duration{"0": 0, "7": 7 * time.Second} {
		if d, ok := parseRetryAfter(v, now); !ok || d != want {
			t.Errorf("Retry-After %s: %v %v, want %v", v, d, ok, want)
		}
	}
	for _, v := range []string{"-5", "1.5", "soon", "+3"} {
		if d, ok := parseRetryAfter(v, now); ok {
			t.Errorf("Retry-After %q: %v, want refused", v, d)
		}
	}
}

// TestHugeRetryAfter: end to end, a 429 whose Retry-After is 10^10
// seconds goes back to a single-key client at once (one upstream call),
// and with two keys it benches the key, which later requests skip.
func TestHugeRetryAfter(t *testing.T) {
	const huge = "10000000000"
	up := newKeyedUpstream(t, func(c upCall) answer {
		if c.Key == keyA || c.Key == upstreamSecret {
			return answer{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": huge},
				Body: `{"error":{"message":"Rate limit reached","type":"tokens","code":"rate_limit_exceeded"}}`}
		}
		return answer{Text: "ok"}
	})
	eng := engines()[0]
	r := newRigFor(t, eng, up.URL, nil, nil)
	st, hd, b := call(t, r, keyRoutes[0])
	if st != http.StatusTooManyRequests || hd.Get("Retry-After") != huge {
		t.Fatalf("one key: status %d Retry-After %q: %s", st, hd.Get("Retry-After"), b)
	}
	if n := len(up.taken()); n != 1 {
		t.Fatalf("one key: %d upstream calls, want 1 (the Retry-After is far over RETRY_AFTER_MAX)", n)
	}

	r = newRigFor(t, eng, up.URL, withKeys(keyA, keyB), nil)
	for i := range 4 {
		if st, _, b := call(t, r, keyRoutes[1]); st != http.StatusOK {
			t.Fatalf("two keys, request %d: status %d: %s", i, st, b)
		}
	}
	if keys := strings.Join(keysOf(up.taken()), " "); strings.Count(keys, keyA) != 1 {
		t.Fatalf("keys sent %q: want key A once, then benched", keys)
	}
}

// TestKeyBenchSaturates: a bench too long for Unix nanoseconds (a huge
// UPSTREAM_KEY_BENCH) benches the key rather than wrapping to a past
// instant; a shorter bench does not cut a longer one short (a request's
// 429 with Retry-After: 1 after another's 401 on the same key).
func TestKeyBenchSaturates(t *testing.T) {
	r, err := newKeyRing([]string{keyA, keyB, keyC})
	if err != nil {
		t.Fatal(err)
	}
	r.bench(0, time.Duration(math.MaxInt64))
	for range 6 {
		if k := r.pick(0); k == 0 {
			t.Fatalf("key 0 benched for ever was picked (benchUntil %d)", r.keys[0].benchUntil.Load())
		}
	}
	r.bench(1, time.Hour)
	r.bench(1, time.Second)
	if until := r.keys[1].benchUntil.Load(); until < time.Now().Add(50*time.Minute).UnixNano() {
		t.Fatalf("a 1 s bench cut short a 1 h one: until %v", time.Unix(0, until))
	}
}

// TestKeyRingCounterWraps: the round-robin counter past 2^63 still picks
// a key in range (int(counter) % n went negative: index out of range).
func TestKeyRingCounterWraps(t *testing.T) {
	r, err := newKeyRing([]string{keyA, keyB, keyC})
	if err != nil {
		t.Fatal(err)
	}
	r.next.Store(1 << 63)
	for range 4 {
		if k := r.pick(0); k < 0 || k > 2 {
			t.Fatalf("picked %d", k)
		}
	}
	r.next.Store(math.MaxUint64)
	if k := r.pick(0); k < 0 || k > 2 {
		t.Fatalf("picked %d", k)
	}
}

// TestKeyRingConcurrent: picks from many goroutines (with benches going
// on, under -race) stay in range, and without benches round robin is
// exact: each key gets the same share. A single key is never benched.
func TestKeyRingConcurrent(t *testing.T) {
	r, err := newKeyRing([]string{keyA, keyB, keyC})
	if err != nil {
		t.Fatal(err)
	}
	const workers, per = 6, 300
	counts := make([][3]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range per {
				counts[w][r.pick(0)]++
			}
		})
	}
	wg.Wait()
	var total [3]int
	for _, c := range counts {
		for i, n := range c {
			total[i] += n
		}
	}
	if total[0] != workers*per/3 || total[1] != total[0] || total[2] != total[0] {
		t.Fatalf("picks per key %v, want %d each", total, workers*per/3)
	}
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				if k := r.pick(uint64(i % 8)); k < 0 || k > 2 {
					t.Errorf("picked %d", k)
					return
				}
				r.bench((w+i)%3, time.Duration(i%5)*time.Millisecond)
			}
		})
	}
	wg.Wait()

	one, err := newKeyRing([]string{keyA})
	if err != nil {
		t.Fatal(err)
	}
	one.bench(0, time.Hour)
	if one.keys[0].benchUntil.Load() != 0 || one.pick(1) != 0 {
		t.Fatal("a single key was benched")
	}
}
