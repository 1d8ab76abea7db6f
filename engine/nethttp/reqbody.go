package nethttp

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

// reqBody reads the caller's request body. net/http may still be writing
// the body when RoundTrip returns (the upstream answered before reading it
// all); detach then copies the unsent rest, so that Do never touches the
// caller's slice after it returns, as engine.Engine promises.
type reqBody struct {
	mu  sync.Mutex
	b   []byte
	off int
}

func (r *reqBody) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

func (r *reqBody) Close() error { return nil }

func (r *reqBody) detach() {
	r.mu.Lock()
	if r.off < len(r.b) {
		r.b = bytes.Clone(r.b[r.off:])
	} else {
		r.b = nil
	}
	r.off = 0
	r.mu.Unlock()
}

var errBodyGone = errors.New("nethttp: request body no longer available")

// bodies hands out readers over one request body (GetBody may ask for more
// than one) and detaches them all when Do returns.
type bodies struct {
	mu       sync.Mutex
	src      []byte
	first    reqBody
	more     []*reqBody
	detached bool
}

func (bs *bodies) init(src []byte) {
	bs.src = src
	bs.first.b = src
}

// getBody is http.Request.GetBody.
func (bs *bodies) getBody() (io.ReadCloser, error) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.detached {
		return nil, errBodyGone
	}
	r := &reqBody{b: bs.src}
	bs.more = append(bs.more, r)
	return r, nil
}

func (bs *bodies) detach() {
	bs.mu.Lock()
	bs.detached = true
	more := bs.more
	bs.mu.Unlock()
	bs.first.detach()
	for _, r := range more {
		r.detach()
	}
}
