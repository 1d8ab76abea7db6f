package proxy

import (
	"context"
	"net/http"

	"github.com/ccproxy/ccproxy/internal/bufpool"
	"golang.org/x/sync/semaphore"
)

// bodyBudget bounds the request-body bytes held in memory at once: a
// client's body from the moment ccproxy starts reading it, its translation
// until the upstream has answered (a retry sends it again). A request that
// finds the budget spent waits, its body still in the kernel's socket
// buffer, where it costs ccproxy nothing; TCP flow control slows the client.
// A burst of a thousand 55 KB Claude Code turns would otherwise hold two
// body-sized buffers each while they queue for the CPU and the upstream.
type bodyBudget struct {
	sem  *semaphore.Weighted // nil: unlimited
	size int64
}

func newBodyBudget(size int64) bodyBudget {
	if size <= 0 {
		return bodyBudget{}
	}
	return bodyBudget{sem: semaphore.NewWeighted(size), size: size}
}

// bodyWeight is what one buffer for a body of length n holds: the buffer
// getBuf(n) returns (room for n+1 bytes: its size class, the smallest large
// one for an unknown length, -1), or a heap slice of n+1 bytes above the
// largest class.
func bodyWeight(n int64) int64 {
	if n >= 0 && n < smallBuf {
		return smallBuf
	}
	if n >= 0 {
		n++
	}
	if n <= bufpool.MaxSize {
		return int64(bufpool.ClassSize(int(n)))
	}
	return n
}

// reserve takes n bytes more of the budget for rs (rs holds at most the
// whole budget, so a body larger than it runs alone), waiting up to
// QueueTimeout. When it returns an error the request must not read (more
// of) its body.
func (h *Handler) reserve(ctx context.Context, rs *reqState, n int64) *apiError {
	b := &h.budget
	if b.sem == nil {
		return nil
	}
	if n = min(n, b.size-rs.reserved); n <= 0 {
		return nil
	}
	if !b.sem.TryAcquire(n) {
		rs.waited = true
		if h.metrics != nil {
			h.metrics.BufferWait()
		}
		wctx, cancel := context.WithTimeout(ctx, h.cfg.QueueTimeout)
		stop := context.AfterFunc(h.stopCtx, cancel) // Stop ends the wait too
		err := b.sem.Acquire(wctx, n)
		stop()
		cancel()
		if err != nil {
			// Stop first: under BaseContext it ends ctx too.
			if h.stopCtx.Err() != nil {
				return shuttingDownError()
			}
			if ctx.Err() != nil {
				return clientGoneError(rs, "client went away while waiting")
			}
			return &apiError{Status: 529, Type: errOverloaded, RetryAfter: "1",
				Message: "ccproxy is holding MAX_BUFFERED_BYTES of request bodies; try again shortly"}
		}
	}
	rs.reserved += n
	if h.metrics != nil {
		h.metrics.Buffered(n)
	}
	return nil
}

// unreserve gives back up to n bytes of what rs holds (all of it when
// n < 0).
func (h *Handler) unreserve(rs *reqState, n int64) {
	if h.budget.sem == nil || rs.reserved == 0 {
		return
	}
	if n < 0 || n > rs.reserved {
		n = rs.reserved
	}
	rs.reserved -= n
	if h.metrics != nil {
		h.metrics.Buffered(-n) // first: a free budget always reads as such
	}
	h.budget.sem.Release(n)
}

// reserveBody reserves bufs buffers for r's body, or sends the error
// (nothing for a client that is gone) and reports false.
func (h *Handler) reserveBody(w http.ResponseWriter, r *http.Request, rs *reqState, bufs int64) bool {
	if r.ContentLength > h.cfg.MaxRequestBytes {
		return true // readBody refuses it without reading
	}
	aerr := h.reserve(r.Context(), rs, bufs*bodyWeight(r.ContentLength))
	if aerr == nil {
		return true
	}
	if rs.clientGone {
		rs.status, rs.errType = aerr.Status, aerr.Type
		return false
	}
	h.fail(w, rs, aerr)
	return false
}

// growBody returns buf with room for more of r's body. A body of unknown
// length (the only kind that outgrows its buffer: a known one is read into
// a buffer of its size) makes rs hold its grown buffer's size for each of
// the bufs buffers the request will hold, as one with a Content-Length
// does from the start: reserveBody counted only one large buffer each.
func (h *Handler) growBody(r *http.Request, rs *reqState, buf []byte, bufs int64) ([]byte, *apiError) {
	grown := append(buf, 0)[:len(buf)]
	if need := bufs*int64(cap(grown)) - rs.reserved; need > 0 {
		if aerr := h.reserve(r.Context(), rs, need); aerr != nil {
			return buf, aerr
		}
	}
	return grown, nil
}
