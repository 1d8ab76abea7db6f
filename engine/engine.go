// Package engine defines the contract between ccproxy's proxy core and the
// HTTP client that talks to the upstream ("engine"), plus a registry through
// which engine implementations make themselves available by name.
//
// The proxy core only ever sees the types in this package: no net/http
// Transport and no fasthttp type crosses this boundary.
package engine

import (
	"context"
	"io"
	"net/http"
)

// Engine sends one request to the upstream and returns the response head
// with a streaming body. Implementations must be safe for concurrent use.
//
// The contract, which engine/enginetest checks for every implementation:
//
//   - Do returns a non-nil error only if no response head was obtained.
//     A non-2xx status is not an error.
//   - Cancelling ctx aborts the wait for the response head and any Read on
//     Response.Body in progress; such a Read returns an error (ctx.Err() or one
//     wrapping it). The upstream observes the abort as a closed connection or
//     a reset stream.
//   - The caller always closes Response.Body. Closing it before EOF must not
//     put a half-read connection back into the pool: the connection is
//     discarded (HTTP/1.1) or the stream reset (HTTP/2).
//   - A body that ends before its framing says it should (a truncated chunked
//     body, a short Content-Length) yields io.ErrUnexpectedEOF, never io.EOF.
//   - Do does not retain req or req.Body after it returns, and never
//     modifies req (its Header included), so the caller may re-send the same
//     Request (retries) and share one read-only Header between requests.
//   - There is no total deadline: a stream may run as long as bytes keep
//     coming. Timeouts are those of Config (connect, response head, idle gap
//     between body reads, write, pool wait).
//   - Compression: when req.Header has no Accept-Encoding, the engine offers
//     "gzip, deflate, br, zstd" upstream and decodes the body incrementally
//     (Response.Header then carries neither Content-Encoding nor
//     Content-Length, and Response.Decoded names the coding removed). When
//     the caller sets Accept-Encoding itself, the body is returned exactly as
//     the upstream sent it.
type Engine interface {
	Do(ctx context.Context, req *Request) (*Response, error)
	// Close releases idle connections. In-flight requests are not affected.
	Close() error
}

// Request is one upstream request.
type Request struct {
	Method string
	// URL is the absolute upstream URL.
	URL string
	// Header holds the request headers. The engine adds Content-Length,
	// Host and (see Engine) Accept-Encoding itself.
	Header http.Header
	// Body is the complete request body; nil means none. The engine never
	// modifies it.
	Body []byte
}

// Response is the head of an upstream response plus its streaming body.
type Response struct {
	StatusCode int
	// Proto is the protocol the response came over, e.g. "HTTP/1.1" or
	// "HTTP/2.0".
	Proto string
	// Header is a copy owned by the caller; it stays valid after Body is
	// closed. Hop-by-hop headers are removed.
	Header http.Header
	// Body is never nil and must be closed by the caller.
	Body io.ReadCloser
	// Decoded is the content coding the engine removed from the body
	// ("gzip", "deflate", "br", "zstd"), or "" if the body is as sent.
	Decoded string
}

// Factory builds an engine from a configuration.
type Factory func(Config) (Engine, error)
