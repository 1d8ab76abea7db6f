// Package load is the benchmark's load client: a cheap HTTP/1.1 client
// (fasthttp, keep-alive, streaming reads) driven closed-loop (fixed
// concurrency), open-loop (fixed arrival rate, latency measured from the
// intended start so coordinated omission does not flatter the numbers) or
// in bursts. The same client is used for direct and through-proxy runs.
package load

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"
)

// Request is the request every iteration sends. It is never modified.
type Request struct {
	// URL is absolute, http:// only (e.g. http://127.0.0.1:8080/v1/messages).
	URL string
	// Header holds extra request headers as name/value pairs.
	Header [][2]string
	// Body is sent with Content-Type application/json (unless Header sets
	// one) as a POST; nil Body means GET.
	Body []byte
}

// Sample is what one request measured.
type Sample struct {
	// Latency is from the (intended) start to the last body byte.
	Latency time.Duration
	// FirstEvent is from the start to the end of the first SSE event
	// (0 when the response was not an event stream).
	FirstEvent time.Duration
	// FirstToken is from the start to the first read that carries
	// generated text (an Anthropic content_block_delta, or an OpenAI chunk
	// whose content, reasoning or tool-call arguments are not empty): time
	// to first token, comparable between direct and through-proxy streams
	// whatever preamble events either sends first (message_start, or
	// OpenAI's role-only first chunk).
	FirstToken time.Duration
	// Events counts SSE events (blank-line terminated blocks).
	Events int
	// Bytes is the response body size.
	Bytes int
}

// Client is a keep-alive HTTP/1.1 client for one host. It is safe for
// concurrent use.
type Client struct {
	hc *fasthttp.HostClient
}

// NewClient returns a client for the host of rawURL that keeps up to conns
// connections open.
func NewClient(rawURL string, conns int) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("load: parse url: %w", err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("load: scheme %q not supported (http only)", u.Scheme)
	}
	if conns <= 0 {
		conns = 1
	}
	return &Client{hc: &fasthttp.HostClient{
		Addr:                      u.Host,
		MaxConns:                  conns,
		MaxConnWaitTimeout:        30 * time.Second,
		MaxIdemponentCallAttempts: 1,
		NoDefaultUserAgentHeader:  true,
		StreamResponseBody:        true,
		ReadBufferSize:            16 << 10,
		WriteTimeout:              10 * time.Second,
		ReadTimeout:               2 * time.Minute, // bounds every run; streams are shorter
		MaxIdleConnDuration:       time.Minute,
	}}, nil
}

// Close closes idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// gapRecorder receives the gaps between consecutive SSE events.
type gapRecorder func(time.Duration)

// Do sends r once and reads the whole response. start is the instant the
// latency counts from (the intended start in open-loop mode). buf is a
// scratch buffer reused across calls. onGap, if non-nil, gets every gap
// between consecutive events.
//
// When p is non-nil, p.Open counts the response while its body is being
// read (after the head arrived).
func (c *Client) Do(r *Request, start time.Time, buf []byte, onGap gapRecorder, p *Progress) (Sample, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI(r.URL)
	if r.Body != nil {
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(r.Body)
	}
	for _, h := range r.Header {
		req.Header.Set(h[0], h[1])
	}
	if err := c.hc.Do(req, resp); err != nil {
		return Sample{}, fmt.Errorf("load: do: %w", err)
	}
	defer func() { _ = resp.CloseBodyStream() }()
	if p != nil {
		p.Open.Add(1)
		defer p.Open.Add(-1)
	}
	var s Sample
	if sc := resp.StatusCode(); sc != fasthttp.StatusOK {
		body := resp.Body()
		if len(body) > 200 {
			body = body[:200]
		}
		return s, fmt.Errorf("load: status %d: %s", sc, body)
	}
	sse := bytes.HasPrefix(resp.Header.ContentType(), []byte("text/event-stream"))
	var sc eventScanner
	var last time.Time
	note := func(p []byte) {
		if sse && s.FirstToken == 0 && carriesToken(p) {
			s.FirstToken = time.Since(start)
		}
		n := sc.scan(p)
		if n == 0 || !sse {
			return
		}
		now := time.Now()
		if s.Events == 0 {
			s.FirstEvent = now.Sub(start)
		} else if onGap != nil {
			onGap(now.Sub(last))
		}
		s.Events += n
		last = now
	}
	if stream := resp.BodyStream(); stream != nil {
		for {
			n, err := stream.Read(buf)
			if n > 0 {
				s.Bytes += n
				note(buf[:n])
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return s, fmt.Errorf("load: read body: %w", err)
			}
		}
	} else {
		b := resp.Body()
		s.Bytes = len(b)
		note(b)
	}
	s.Latency = time.Since(start)
	if !sse {
		s.Events = 0
	}
	return s, nil
}

// tokenFields are the JSON keys whose non-empty string value is generated
// text: OpenAI's delta content, reasoning (two spellings) and tool-call
// arguments.
var tokenFields = [][]byte{[]byte(`"content":"`), []byte(`"reasoning_content":"`), []byte(`"reasoning":"`), []byte(`"arguments":"`)}

var anthropicDelta = []byte("content_block_delta")

// carriesToken reports whether p holds generated text (see
// Sample.FirstToken). A field split across two reads is seen in neither.
func carriesToken(p []byte) bool {
	if bytes.Contains(p, anthropicDelta) {
		return true
	}
	for _, f := range tokenFields {
		for q := p; ; {
			i := bytes.Index(q, f)
			if i < 0 {
				break
			}
			q = q[i+len(f):]
			if len(q) > 0 && q[0] != '"' {
				return true
			}
		}
	}
	return false
}

// eventScanner counts blank-line event terminators ("\n\n" or "\r\n\r\n")
// across read boundaries.
type eventScanner struct{ nl int }

func (e *eventScanner) scan(p []byte) int {
	n := 0
	for _, b := range p {
		switch b {
		case '\n':
			e.nl++
			if e.nl == 2 {
				n++
				e.nl = 0
			}
		case '\r':
		default:
			e.nl = 0
		}
	}
	return n
}
