package fasthttp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	fh "github.com/valyala/fasthttp"

	"github.com/ccproxy/ccproxy/engine"
)

// pooledConn is what HostClient.AcquireConn returns. Its concrete type is
// unexported in fasthttp, so the code that holds one is generic over it and
// gets the pool operations as method expressions (no per-request closures).
type pooledConn interface {
	Conn() net.Conn
	LastUseTime() time.Time
}

// connOps are HostClient's connection-pool methods.
type connOps[C pooledConn] struct {
	acquire func(*fh.HostClient, time.Duration, bool) (C, error)
	discard func(*fh.HostClient, C) // closes the connection
	reuse   func(*fh.HostClient, C) // returns it to the idle pool
}

func newConnOps[C pooledConn](
	acquire func(*fh.HostClient, time.Duration, bool) (C, error),
	discard, reuse func(*fh.HostClient, C),
) connOps[C] {
	return connOps[C]{acquire: acquire, discard: discard, reuse: reuse}
}

// pool is immutable: it only names fasthttp's methods.
var pool = newConnOps(
	(*fh.HostClient).AcquireConn,
	(*fh.HostClient).CloseConn,
	(*fh.HostClient).ReleaseConn,
)

// roundTrip runs one exchange on a pooled connection: write the request,
// read the head, hand the body stream to a body that owns the connection.
func (o connOps[C]) roundTrip(ctx context.Context, e *Engine, h *host, r *engine.Request) (*engine.Response, error) {
	if err := h.acquireSlot(ctx); err != nil {
		return nil, err
	}
	cc, err := o.acquire(h.hc, 0, false)
	if err != nil {
		h.releaseSlot()
		if errors.Is(err, fh.ErrNoFreeConns) || errors.Is(err, fh.ErrTimeout) {
			return nil, fmt.Errorf("fasthttp: %w: %w", engine.ErrPoolTimeout, err)
		}
		if !errors.Is(err, engine.ErrDial) {
			err = fmt.Errorf("fasthttp: dial: %w: %w", engine.ErrDial, err)
		}
		return nil, err
	}
	if pc, ok := cc.Conn().(*pendingConn); ok {
		// A new connection may still be connecting: wait for it as long
		// as the request wants it. Closing it cancels the connect.
		if err := pc.await(ctx); err != nil {
			o.discard(h.hc, cc)
			h.releaseSlot()
			return nil, err
		}
	}
	if !cc.LastUseTime().IsZero() {
		h.reused.Add(1)
	}

	b := &body[C]{ops: o, h: h, cc: cc, conn: cc.Conn(), ctx: ctx, idle: e.cfg.IdleReadTimeout}
	if ctx.Done() != nil {
		b.stop = context.AfterFunc(ctx, b.interrupt)
	}

	req := fh.AcquireRequest()
	acceptEncoding := fillRequest(req, r)
	keepAlive := !req.ConnectionClose()

	// Write the request.
	_ = b.conn.SetWriteDeadline(time.Now().Add(e.cfg.WriteTimeout))
	err = writeRequest(h.hc, b.conn, req, r.Body)
	fh.ReleaseRequest(req) // drops the reference to r.Body
	if err != nil {
		b.fail()
		return nil, classify(ctx, b.cancelled.Load(), engine.ErrWriteTimeout, "write request", err)
	}

	// Read the head. With StreamBody set, ReadLimitBody stops after the
	// head and leaves the body to a stream over br.
	resp := fh.AcquireResponse()
	resp.StreamBody = true
	resp.Header.SetNoDefaultContentType(true)
	if r.Method == http.MethodHead {
		resp.SkipBody = true
	}
	_ = b.conn.SetReadDeadline(time.Now().Add(e.cfg.ResponseHeaderTimeout))
	br := h.hc.AcquireReader(b.conn)
	rd, err := readHead(resp, br)
	if err != nil {
		h.hc.ReleaseReader(br)
		fh.ReleaseResponse(resp)
		b.fail()
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("upstream closed the connection before the response head: %w", io.ErrUnexpectedEOF)
		}
		return nil, classify(ctx, b.cancelled.Load(), engine.ErrHeaderTimeout, "read response head", err)
	}
	if b.cancelled.Load() || ctx.Err() != nil {
		// ctx ended while the head was arriving: closing a TLS connection
		// sends close_notify first, and the upstream may answer it with a
		// head before the socket is closed. The caller asked to give up.
		h.hc.ReleaseReader(br)
		fh.ReleaseResponse(resp)
		b.fail()
		return nil, fmt.Errorf("fasthttp: read response head: %w", ctx.Err())
	}
	// From now on the deadline bounds the silence between body bytes
	// (IdleReadTimeout), re-armed as the body is read.
	b.armIdle(true)

	out := &b.head // one allocation with the body it describes
	out.StatusCode, out.Proto = resp.StatusCode(), "HTTP/1.1"
	coding := ""
	if !acceptEncoding {
		coding = string(resp.Header.ContentEncoding())
	}
	out.Header = responseHeader(&resp.Header, coding != "")

	// A body delimited by the connection closing (length -2) ends it; a
	// response that has no body by definition (HEAD, 1xx, 204, 304) says
	// nothing by lacking a length, and keeps its connection.
	keepAlive = keepAlive && !resp.ConnectionClose()
	untilClose := resp.Header.ContentLength() == -2
	stream := resp.BodyStream()
	if stream == nil {
		// No body (HEAD, 204, 304): the connection is free again.
		st := resp.StatusCode()
		noBody := resp.SkipBody || st < 200 || st == http.StatusNoContent || st == http.StatusNotModified
		h.hc.ReleaseReader(br)
		fh.ReleaseResponse(resp)
		b.finish(keepAlive && (noBody || !untilClose))
		out.Body = http.NoBody
		return out, nil
	}
	b.resp, b.pooled, b.br, b.stream, b.keepAlive = resp, br, rd, stream, keepAlive && !untilClose
	b.chunked = resp.Header.ContentLength() == -1
	out.Body = b
	if coding != "" {
		rc, name, ok := engine.NewDecoder(coding, b)
		if ok {
			out.Body, out.Decoded = rc, name
		} else {
			// Unknown coding: pass it through untouched, headers included.
			out.Header = responseHeader(&resp.Header, false)
		}
	}
	return out, nil
}

// readHead reads resp's head from br (readBufferSize bytes). A head that
// does not fit is read again from a larger buffer layered over br, which
// still holds the head's first bytes (fasthttp only peeks until the head
// is complete): the rare large head costs a buffer of its own, not every
// stream. It returns the reader the body must be read from.
func readHead(resp *fh.Response, br *bufio.Reader) (*bufio.Reader, error) {
	skip := resp.SkipBody
	err := resp.ReadLimitBody(br, 0)
	if err == nil || !smallBuffer(err) {
		return br, err
	}
	for size := 4 * readBufferSize; size <= maxHeadSize; size *= 4 {
		big := bufio.NewReaderSize(br, size)
		resp.Reset()
		resp.StreamBody = true
		resp.Header.SetNoDefaultContentType(true)
		resp.SkipBody = skip
		if err = resp.ReadLimitBody(big, 0); err == nil || !smallBuffer(err) {
			return big, err
		}
		br = big
	}
	return br, fmt.Errorf("response head larger than %d bytes: %w", maxHeadSize, err)
}

// smallBuffer reports a head that did not fit in the read buffer.
func smallBuffer(err error) bool {
	var small *fh.ErrSmallBuffer
	return errors.As(err, &small)
}

// gatherMin is the body size from which a request on a plain TCP
// connection leaves as one writev of head and body. Through fasthttp's
// bufio.Writer (4 KB) such a body costs two writes: the buffer, then the
// rest.
const gatherMin = 2 << 10

// writeRequest writes req, whose body is body, to conn. A large body on a
// plain TCP connection goes out with its head in a single writev (no copy
// into a buffer); anything else (TLS, small bodies, credentials in the
// URL) through fasthttp's own Request.Write.
func writeRequest(hc *fh.HostClient, conn net.Conn, req *fh.Request, body []byte) error {
	if tc, ok := gathered(conn, req, body); ok {
		// What Request.Write would do for this request: Host and the
		// request line from the URI, Content-Length from the body.
		uri := req.URI()
		req.Header.SetHostBytes(uri.Host())
		req.Header.SetRequestURIBytes(uri.RequestURI())
		req.Header.SetContentLength(len(body))
		bufs := net.Buffers{req.Header.Header(), body}
		_, err := bufs.WriteTo(tc)
		return err
	}
	bw := hc.AcquireWriter(conn)
	err := req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	hc.ReleaseWriter(bw)
	return err
}

// gathered reports whether req with body leaves on conn as one writev: a
// plain TCP connection (under the pendingConn every dial returns), a body of at least gatherMin bytes, and no
// credentials in the URL (Request.Write turns those into Authorization).
func gathered(conn net.Conn, req *fh.Request, body []byte) (*net.TCPConn, bool) {
	if pc, ok := conn.(*pendingConn); ok {
		conn = pc.conn // connected: see roundTrip
	}
	tc, ok := conn.(*net.TCPConn)
	return tc, ok && len(body) >= gatherMin && len(req.URI().Username()) == 0
}
