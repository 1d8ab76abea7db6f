package proxy

import (
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/ccproxy/ccproxy/engine"
)

// maxErrorBody bounds how much of an upstream error body is read.
const maxErrorBody = 64 << 10

// retryPolicy is ccproxy's single retry layer. Engines do not retry on
// their own, so a request is tried at most 1+Max times.
type retryPolicy struct {
	Max           int           // retries after the first try
	BaseDelay     time.Duration // first backoff ceiling; doubled per retry
	MaxDelay      time.Duration // backoff ceiling cap
	RetryAfterCap time.Duration // a longer Retry-After is not waited for
}

// retryableStatus lists statuses worth another try.
func retryableStatus(code int) bool {
	switch code {
	case 408, 409, 429, 500, 502, 503, 504, 529:
		return true
	}
	return false
}

// backoff returns a full-jitter delay for retry number n (0-based).
func (p *retryPolicy) backoff(n int) time.Duration {
	ceil := p.BaseDelay << n
	if ceil <= 0 || ceil > p.MaxDelay {
		ceil = p.MaxDelay
	}
	if ceil <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// maxRetryAfterSeconds is the longest Retry-After in seconds that a
// time.Duration holds; a longer one reads as that (about 292 years).
const maxRetryAfterSeconds = math.MaxInt64 / int64(time.Second)

// parseRetryAfter reads a Retry-After header (seconds or HTTP date).
// Seconds are digits only (RFC 9110's delay-seconds); more than a
// time.Duration holds read as the longest one, never as a negative wait.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil || s > maxRetryAfterSeconds {
			return time.Duration(math.MaxInt64), true // out of range: digits only, so too large
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// isDigits reports whether v is one or more ASCII digits.
func isDigits(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return v != ""
}

// retryCause names why a try failed, for metrics and logs.
func retryCause(err error, status int) string {
	switch {
	case status == 429:
		return "status_429"
	case status == 529 || status == 503:
		return "status_overloaded"
	case status >= 500:
		return "status_5xx"
	case status != 0:
		return "status_" + strconv.Itoa(status)
	case errors.Is(err, engine.ErrDial):
		return "connect"
	case engine.IsTimeout(err):
		return "timeout"
	default:
		return "connection"
	}
}

// causeKeyRotated is the retry cause of a try sent again at once with
// another upstream key, the last one having been refused (401/403) or
// rate limited (429).
const causeKeyRotated = "key_rotated"

// attempt records what send did, for logs and metrics.
type attempt struct {
	Retries     int
	LastCause   string
	HeadersTime time.Duration // time to the final response head
	// Key is the upstream key (1-based index, never the key) of the last
	// try; 0 without keys.
	Key int
	// Header says how each try carries its key (set before send).
	Header headerKind
	// Model is the upstream model the request is for (set before send,
	// "" when it names none): its breaker guards each try.
	Model string
	// tried has a bit for each key refused (401/403/429) to this request.
	tried uint64
}

// send performs req with retries and the circuit breakers, before
// anything has been written to the client. On success the response is 2xx
// and its body is open. Otherwise the error is an *apiError ready for the
// client (a *circuitOpenError wrapping one when a breaker refused the
// first try; a later try refused gets the previous try's failure), or the
// context's error when the client went away.
//
// Two breakers guard each try: the upstream-wide one counts failures
// where nothing came back (connection refused or reset, TLS, dial and
// header timeouts) and the one of at.Model counts that model's 5xx/529
// answers. Any answer at all closes the upstream-wide one's count; a
// model's breaker is closed by a 2xx or 4xx answer from it.
//
// With several upstream keys, each try takes the next key in turn that is
// not benched; a key refused with 401/403 or rate limited with 429 is
// benched and the request moves to another key at once, without using up
// a retry, while one is available.
func (h *Handler) send(ctx context.Context, req *engine.Request, at *attempt) (*engine.Response, error) {
	mb := h.models.forModel(at.Model)
	// last is the failure of this request's previous try: when a breaker
	// (opened by that failure, or by others meanwhile) refuses the next
	// one, the client hears what really failed, not a refusal saying
	// nothing was sent.
	var last error
	for try := 0; ; {
		ok, upProbe, wait := h.breaker.allow()
		if !ok {
			if last != nil {
				return nil, last
			}
			return nil, upstreamOpen(wait)
		}
		ok, mProbe, wait := mb.allow()
		if !ok {
			h.breaker.abandon(upProbe)
			if last != nil {
				return nil, last
			}
			return nil, modelOpen(at.Model, wait)
		}
		key := h.ring.pick(at.tried)
		h.useKey(req, at, key)
		start := time.Now()
		resp, err := h.engine.Do(ctx, req)
		at.HeadersTime = time.Since(start)
		if err != nil {
			mb.abandon(mProbe) // nothing came back: not the model's failure
			if ctx.Err() != nil {
				h.breaker.abandon(upProbe)
				return nil, ctx.Err()
			}
			if errors.Is(err, engine.ErrPoolTimeout) {
				// Our own pool is saturated: not an upstream failure, and
				// retrying would only queue again.
				h.breaker.abandon(upProbe)
				return nil, transportError(err)
			}
			h.breaker.failure()
			cause := retryCause(err, 0)
			if try < h.retry.Max && h.sleep(ctx, h.retry.backoff(try)) {
				last = transportError(err)
				try++
				at.Retries++
				at.LastCause = cause
				h.noteRetry(cause)
				continue
			}
			return nil, transportError(err)
		}
		h.breaker.success() // the upstream answered
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			mb.success()
			return resp, nil
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			mb.failure()
		} else {
			mb.success()
		}
		apiErr := h.upstreamError(resp.StatusCode, resp.Header, body, len(body) == maxErrorBody)
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests:
			if h.keyRefused(at, key, resp.StatusCode, resp.Header.Get("Retry-After")) {
				last = apiErr
				at.Retries++
				at.LastCause = causeKeyRotated
				h.noteRetry(causeKeyRotated)
				continue
			}
		}
		if try < h.retry.Max && retryableStatus(resp.StatusCode) {
			delay := h.retry.backoff(try)
			if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				if ra > h.retry.RetryAfterCap {
					// Waiting that long would hold the client hostage:
					// hand the Retry-After to it instead.
					return nil, apiErr
				}
				delay = ra
			}
			if h.sleep(ctx, delay) {
				last = apiErr
				try++
				at.Retries++
				at.LastCause = retryCause(nil, resp.StatusCode)
				h.noteRetry(at.LastCause)
				continue
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
		return nil, apiErr
	}
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func (h *Handler) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
