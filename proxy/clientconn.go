package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
)

// connKey is the context key of a request's client connection (see
// ConnContext).
type connKey struct{}

// ConnContext is for http.Server.ConnContext: it keeps each client
// connection in its requests' contexts. A request that waited in one of
// ccproxy's queues (the body budget, the concurrency limit) over HTTP/1.x
// then checks, once its body is read, whether its client went away while
// it waited, and is not sent upstream if so: net/http watches an HTTP/1.x
// connection for the client leaving only once the body has been read, so a
// client that gave up while queued (its body unread in the socket) is
// otherwise noticed only when the answer is written, after the upstream
// was paid for the request. Without it, such a request is sent.
func (h *Handler) ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// clientLeft reports whether r's HTTP/1.x client has closed its
// connection: its end (or a reset) is all that is left to read once the
// body has been. Over HTTP/2 a client that leaves resets its stream, which
// ends r's context. It reports false when it cannot tell (no ConnContext,
// a TLS connection, whose close_notify comes before the end, or a
// platform without the check).
func clientLeft(r *http.Request) bool {
	if r.ProtoMajor != 1 {
		return false
	}
	c, _ := r.Context().Value(connKey{}).(net.Conn)
	if c == nil {
		return false
	}
	if _, ok := c.(*tls.Conn); ok {
		return false
	}
	return peerClosed(c)
}

// clientClosed reports whether err, from reading r's body, says that the
// client closed its connection (or reset its stream) before the body's
// end: net/http has then ended r's context (on HTTP/1.x any failed read of
// the connection does, a passed read deadline too, which is why that is
// told apart first; on HTTP/2 the client's reset of the stream does).
// Stop ends it too under BaseContext: the caller checks Stop.
func clientClosed(r *http.Request, err error) bool {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) || errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	return r.Context().Err() != nil
}
