package fakeupstream

import (
	"io"
	"net/http"
	"time"
)

// response writes one chat-completions answer, optionally compressed,
// flushing after every SSE event.
type response struct {
	s        *Server
	w        http.ResponseWriter
	r        *http.Request
	coding   string
	flushErr interface{ FlushError() error }
	flush    http.Flusher
	c        compressor
	dst      io.Writer
	err      error
	gone     bool // the client went away (already counted)
}

func (c *response) setHeaders(contentType []string) {
	h := c.w.Header()
	h["Content-Type"] = contentType
	h["X-Content-Type-Options"] = c.s.headers.noSniff
	if c.coding != "" {
		h["Content-Encoding"] = c.s.headers.coding[c.coding]
		h["Vary"] = c.s.headers.vary
	}
}

// begin sets up the compressor after the headers are written.
func (c *response) begin() {
	c.dst = c.w
	if c.coding != "" {
		c.c = c.s.enc.get(c.coding, c.w)
		c.dst = c.c
	}
}

// end finishes the compressed stream (if any) and returns the compressor.
func (c *response) end(finish bool) {
	if c.c == nil {
		return
	}
	if finish && c.err == nil {
		if err := c.c.Close(); err != nil {
			c.fail(err)
		}
	}
	c.s.enc.put(c.coding, c.c)
	c.c = nil
}

func (c *response) fail(err error) {
	if c.err == nil {
		c.err = err
	}
	if !c.gone {
		c.gone = true
		c.s.canceled(c.r)
	}
}

// write writes b and flushes it (compressor, then connection).
func (c *response) write(b []byte) bool {
	if c.err != nil {
		return false
	}
	if _, err := c.dst.Write(b); err != nil {
		c.fail(err)
		return false
	}
	return c.flushNow()
}

func (c *response) flushNow() bool {
	if c.c != nil {
		if err := c.c.Flush(); err != nil {
			c.fail(err)
			return false
		}
	}
	switch {
	case c.flushErr != nil:
		if err := c.flushErr.FlushError(); err != nil {
			c.fail(err)
			return false
		}
	case c.flush != nil:
		c.flush.Flush()
	}
	return true
}

// wait sleeps d; false means the client went away (counted).
func (c *response) wait(d time.Duration) bool {
	if c.s.sleep(c.r.Context(), d) {
		return true
	}
	if !c.gone {
		c.gone = true
		c.s.canceled(c.r)
	}
	return false
}

// stream writes an SSE reply: role chunk, reasoning and content (or tool
// call) chunks, finish chunk, optional usage chunk, [DONE]; with f applied
// after f.AfterChunks events when f.Kind is a stream fault.
func (c *response) stream(rep *reply, opts *Options, promptTokens int, f Fault) {
	c.setHeaders(c.s.headers.sse)
	c.w.Header()["Cache-Control"] = c.s.headers.noCache
	c.w.WriteHeader(http.StatusOK)
	c.s.stats.streams.Add(1)
	c.begin()
	defer c.end(false)
	if !c.flushNow() || !c.wait(opts.FirstChunkDelay) {
		return
	}

	var usage []byte
	n := len(rep.events)
	if rep.usagePrefix != nil {
		bp := c.s.getBuf()
		defer c.s.bodies.Put(bp)
		u := append((*bp)[:0], rep.usagePrefix...)
		u = appendUsage(u, promptTokens, rep)
		u = append(u, rep.usageSuffix...)
		*bp = u[:0]
		usage = u
		n++
	}
	for i := 0; ; i++ {
		if f.Kind != 0 && (f.AfterChunks == i || (i == n && f.AfterChunks > n)) {
			switch f.Kind {
			case ResetMidStream:
				panic(http.ErrAbortHandler)
			case Truncate:
				c.end(true)
				return
			case MalformedChunk:
				if !c.write(c.s.headers.malformed) {
					return
				}
			case StreamError:
				msg := f.Body
				if msg == "" {
					msg = "The server had an error while processing your request."
				}
				b := appendError([]byte("data: "), msg, "server_error", "", "")
				if c.write(append(b, "\n\n"...)) {
					c.end(true)
				}
				return
			case Stall:
				if !c.wait(f.Delay) {
					return
				}
			}
		}
		if i == n {
			break
		}
		if i > 0 && !c.wait(opts.ChunkInterval) {
			return
		}
		ev := usage
		if i < len(rep.events) {
			ev = rep.events[i]
		}
		if !c.write(ev) {
			return
		}
	}
	if !c.wait(opts.ChunkInterval) || !c.write(c.s.headers.done) {
		return
	}
	c.end(true)
	c.flushNow()
}

// unary writes a chat.completion body, with f applied when it is a fault
// that concerns the body.
func (c *response) unary(rep *reply, promptTokens int, f Fault) {
	bp := c.s.getBuf()
	defer c.s.bodies.Put(bp)
	b := append((*bp)[:0], rep.unaryPrefix...)
	b = appendUsage(b, promptTokens, rep)
	b = append(b, rep.unarySuffix...)
	*bp = b[:0]

	switch f.Kind {
	case MalformedChunk:
		b = []byte("{not json")
	case StreamError:
		msg := f.Body
		if msg == "" {
			msg = "The server had an error while processing your request."
		}
		b = appendError(nil, msg, "server_error", "", "")
	}
	c.setHeaders(c.s.headers.json)
	// No Content-Length: net/http adds it itself when the whole body is
	// written before the handler returns (and setting it would allocate).
	c.w.WriteHeader(http.StatusOK)
	c.begin()
	defer c.end(false)
	switch f.Kind {
	case ResetMidStream:
		if c.write(b[:len(b)/2]) {
			panic(http.ErrAbortHandler)
		}
		return
	case Truncate:
		if c.write(b[:len(b)/2]) {
			c.end(true)
		}
		return
	case Stall:
		if !c.flushNow() || !c.wait(f.Delay) {
			return
		}
	}
	if c.c != nil {
		if _, err := c.c.Write(b); err != nil {
			c.fail(err)
			return
		}
		c.end(true)
		return
	}
	if _, err := c.w.Write(b); err != nil {
		c.fail(err)
	}
}
