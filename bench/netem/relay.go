// Package netem is a TCP relay that emulates network latency on loopback.
//
// Loopback has no round-trip time, which hides exactly what connection reuse
// and HTTP/2 win. A Relay sits between a client (ccproxy) and a server (the
// fake upstream) and makes every connect and every byte cost what it costs on
// a real network: connecting takes one round trip, and each chunk of data is
// delivered one one-way delay after it was read, in order, in each
// direction. Each direction has a bounded queue, so a slow reader applies
// back-pressure instead of growing memory.
package netem

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Relay.
type Options struct {
	// Target is the host:port every accepted connection is relayed to.
	Target string
	// Addr is the listen address. Default "127.0.0.1:0".
	Addr string
	// RTT is the emulated round-trip time. Connecting costs one RTT and
	// each chunk of data is delayed by RTT/2 in each direction. Zero means
	// a plain relay.
	RTT time.Duration
	// QueueChunks bounds the chunks in flight per direction (each at most
	// ChunkSize bytes). Default 64.
	QueueChunks int
	// ChunkSize is the read size per chunk. Default 32 KiB.
	ChunkSize int
}

// Stats counts what a Relay carried.
type Stats struct {
	// Conns is the number of connections accepted.
	Conns int64
	// Up and Down are the bytes relayed client→target and target→client.
	Up, Down int64
}

// Relay is a running delay relay. Its methods are safe for concurrent use.
type Relay struct {
	// Addr is the address clients connect to (host:port).
	Addr string

	opts  Options
	ln    net.Listener
	done  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	pool  sync.Pool

	nconns, up, down atomic.Int64
}

// Start listens on opts.Addr and relays every accepted connection to
// opts.Target until Close.
func Start(opts Options) (*Relay, error) {
	if opts.Target == "" {
		return nil, errors.New("netem: empty target")
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.QueueChunks <= 0 {
		opts.QueueChunks = 64
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 32 << 10
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("netem: listen: %w", err)
	}
	r := &Relay{
		Addr:  ln.Addr().String(),
		opts:  opts,
		ln:    ln,
		done:  make(chan struct{}),
		conns: map[net.Conn]struct{}{},
	}
	size := opts.ChunkSize
	r.pool.New = func() any { b := make([]byte, size); return &b }
	r.wg.Add(1)
	go r.acceptLoop()
	return r, nil
}

// Stats returns the counters so far.
func (r *Relay) Stats() Stats {
	return Stats{Conns: r.nconns.Load(), Up: r.up.Load(), Down: r.down.Load()}
}

// Close stops listening, closes every relayed connection and waits for the
// relay goroutines to end.
func (r *Relay) Close() error {
	select {
	case <-r.done:
		return nil
	default:
	}
	close(r.done)
	err := r.ln.Close()
	r.mu.Lock()
	for c := range r.conns {
		_ = c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return err
}

func (r *Relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.done:
		_ = c.Close()
		return false
	default:
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Relay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	_ = c.Close()
}

func (r *Relay) acceptLoop() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return // listener closed
		}
		r.nconns.Add(1)
		if !r.track(c) {
			return
		}
		r.wg.Add(1)
		go r.serve(c)
	}
}

// sleep waits d or until the relay closes; it reports false on close.
func (r *Relay) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.done:
		return false
	}
}

func (r *Relay) serve(client net.Conn) {
	defer r.wg.Done()
	defer r.untrack(client)
	// The client's connect completed at once on loopback; the target is
	// dialled one RTT later, so the first byte exchanged pays for the
	// handshake a real network would have charged.
	if !r.sleep(r.opts.RTT) {
		return
	}
	target, err := net.Dial("tcp", r.opts.Target)
	if err != nil {
		return
	}
	if !r.track(target) {
		return
	}
	defer r.untrack(target)
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() { defer pipes.Done(); r.pipe(target, client, &r.up) }()
	go func() { defer pipes.Done(); r.pipe(client, target, &r.down) }()
	pipes.Wait()
}

type chunk struct {
	due time.Time
	buf *[]byte
	n   int
}

// pipe copies src to dst, delivering each chunk RTT/2 after it was read.
// A clean EOF on src becomes a half-close on dst; any error closes both.
func (r *Relay) pipe(dst, src net.Conn, counter *atomic.Int64) {
	q := make(chan chunk, r.opts.QueueChunks)
	delay := r.opts.RTT / 2
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		failed := false
		for c := range q {
			if c.buf == nil { // EOF marker
				if cw, ok := dst.(interface{ CloseWrite() error }); ok && !failed {
					_ = cw.CloseWrite()
				}
				continue
			}
			if !failed {
				if !r.sleep(time.Until(c.due)) {
					failed = true
				} else if _, err := dst.Write((*c.buf)[:c.n]); err != nil {
					failed = true
				} else {
					counter.Add(int64(c.n))
				}
				if failed {
					_ = src.Close() // unblock the reader
					_ = dst.Close()
				}
			}
			r.pool.Put(c.buf)
		}
	}()
	for {
		buf := r.pool.Get().(*[]byte)
		n, err := src.Read(*buf)
		if n > 0 {
			q <- chunk{due: time.Now().Add(delay), buf: buf, n: n}
		} else {
			r.pool.Put(buf)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				q <- chunk{}
			} else {
				_ = dst.Close()
			}
			break
		}
	}
	close(q)
	<-writerDone
}
