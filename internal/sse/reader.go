// Package sse decodes and encodes Server-Sent Events (the text/event-stream
// format of the WHATWG HTML standard). It knows nothing about Anthropic or
// OpenAI payloads.
package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrEventTooLarge is returned by Reader.Err when a line or an event's data
// exceeds the Reader's maxEventBytes.
var ErrEventTooLarge = errors.New("sse: event exceeds size limit")

// DefaultMaxEventBytes is the limit NewReader uses when maxEventBytes <= 0.
const DefaultMaxEventBytes = 4 << 20

const initialBufSize = 4096

// Reader reads events from an event stream, bufio.Scanner style:
//
//	r := sse.NewReader(body, 1<<20)
//	for r.Next() {
//		use(r.Event(), r.Data())
//	}
//	if err := r.Err(); err != nil { ... }
//
// Parsing follows the WHATWG rules: lines end in "\n", "\r\n" or "\r"; lines
// starting with ':' are comments; "field:value" and "field: value" are the
// same (one leading space is stripped); "data" lines are joined with "\n";
// "event" names the event; "id" and "retry" are accepted and ignored; unknown
// fields are ignored; a blank line dispatches the event, but only if it had
// at least one data line (a block of only comments, or only an event name,
// is skipped).
//
// Next returns an event as soon as the blank line ending it has been read:
// it calls Read on the underlying reader only when the bytes already buffered
// hold no complete line, so a streaming body is never waited on for bytes
// that belong to later events.
//
// End of input: an event that is still being assembled when the underlying
// reader returns io.EOF (the final blank line, or even the final line
// terminator, is missing) is delivered as a normal event, and Err stays nil.
// Whether a stream ended "cleanly" is a protocol question (OpenAI's
// "data: [DONE]") that the caller answers, not this Reader. Any other read
// error stops the Reader and is returned by Err, wrapped (errors.Is works);
// the partial event is then dropped.
//
// A Reader makes no allocations per event in steady state: lines are parsed
// in its own read buffer and event names and data are copied into buffers it
// reuses. A Reader is not safe for concurrent use.
type Reader struct {
	r   io.Reader
	max int

	buf        []byte // read buffer; unparsed bytes are buf[start:end]
	start, end int
	skipLF     bool // the previous line ended in '\r': ignore a leading '\n'
	eof        bool
	err        error

	event   []byte // event name of the event being assembled / returned
	data    []byte // data of the event being assembled / returned
	hasData bool   // at least one data line seen for the event being assembled
	ready   bool   // event/data hold a returned event, reset them on the next Next
}

// NewReader returns a Reader that reads from r and rejects lines and events
// whose data exceed maxEventBytes (DefaultMaxEventBytes if <= 0).
func NewReader(r io.Reader, maxEventBytes int) *Reader {
	if maxEventBytes <= 0 {
		maxEventBytes = DefaultMaxEventBytes
	}
	return &Reader{r: r, max: maxEventBytes}
}

// Reset makes the Reader read from r, keeping its buffers and its limit, so
// one Reader can serve many streams.
func (rd *Reader) Reset(r io.Reader) {
	rd.r = r
	rd.start, rd.end = 0, 0
	rd.skipLF, rd.eof, rd.err = false, false, nil
	rd.event = rd.event[:0]
	rd.data = rd.data[:0]
	rd.hasData, rd.ready = false, false
}

// Event returns the name of the current event ("" when the event had no
// "event:" line). The slice is valid until the next call to Next.
func (rd *Reader) Event() []byte { return rd.event }

// Data returns the data of the current event: its data lines joined with
// "\n". The slice is valid until the next call to Next.
func (rd *Reader) Data() []byte { return rd.data }

// Err returns the first error other than io.EOF met by Next: a read error of
// the underlying reader (wrapped) or ErrEventTooLarge. It is nil after a clean
// end of input.
func (rd *Reader) Err() error { return rd.err }

// SourceEOF reports whether the source has returned io.EOF: whatever the
// stream still holds is in the Reader's buffer, and reading it cannot
// block.
func (rd *Reader) SourceEOF() bool { return rd.eof }

// Next advances to the next event. It returns false at the end of input or
// on an error; see Err.
func (rd *Reader) Next() bool { return rd.next(true) }

// NextBuffered is Next without reading: it returns false when no complete
// event is already buffered, keeping what it parsed of an incomplete one
// for the next call. A caller that has events to send can use it to batch
// the events that arrived together, without waiting for more.
func (rd *Reader) NextBuffered() bool { return rd.next(false) }

func (rd *Reader) next(read bool) bool {
	if rd.ready {
		rd.event = rd.event[:0]
		rd.data = rd.data[:0]
		rd.hasData, rd.ready = false, false
	}
	for rd.err == nil {
		line, ok := rd.line()
		if !ok {
			if rd.eof {
				// Deliver an event the stream ended in the middle of.
				if rd.hasData {
					rd.ready = true
					return true
				}
				return false
			}
			if !read {
				return false
			}
			rd.fill()
			continue
		}
		if len(line) == 0 {
			if rd.hasData {
				rd.ready = true
				return true
			}
			rd.event = rd.event[:0] // an event name without data is discarded
			continue
		}
		rd.field(line)
	}
	return false
}

// line returns the next complete line from the buffer, without its
// terminator. At EOF the unterminated rest of the buffer is a line too.
func (rd *Reader) line() ([]byte, bool) {
	if rd.skipLF && rd.start < rd.end {
		if rd.buf[rd.start] == '\n' {
			rd.start++
		}
		rd.skipLF = false
	}
	b := rd.buf[rd.start:rd.end]
	i := indexEOL(b)
	if i < 0 {
		if rd.eof && len(b) > 0 {
			rd.start = rd.end
			return b, true
		}
		return nil, false
	}
	if b[i] == '\r' {
		rd.skipLF = true
	}
	rd.start += i + 1
	return b[:i], true
}

// field applies one non-blank line to the event being assembled.
func (rd *Reader) field(line []byte) {
	if line[0] == ':' {
		return // comment
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "data":
		if rd.hasData {
			rd.data = append(rd.data, '\n')
		}
		rd.data = append(rd.data, value...)
		rd.hasData = true
		if len(rd.data) > rd.max {
			rd.err = ErrEventTooLarge
		}
	case "event":
		rd.event = append(rd.event[:0], value...)
	}
	// "id", "retry" and unknown fields are ignored.
}

// fill reads more bytes into the buffer, compacting or growing it first.
func (rd *Reader) fill() {
	if rd.start > 0 {
		n := copy(rd.buf, rd.buf[rd.start:rd.end])
		rd.start, rd.end = 0, n
	}
	if rd.end == len(rd.buf) {
		if len(rd.buf) >= rd.max+2 { // a line plus "\r\n" may use max+2 bytes
			rd.err = ErrEventTooLarge
			return
		}
		size := max(2*len(rd.buf), initialBufSize)
		size = min(size, rd.max+2)
		nb := make([]byte, size)
		copy(nb, rd.buf[:rd.end])
		rd.buf = nb
	}
	n, err := rd.r.Read(rd.buf[rd.end:])
	for tries := 1; n == 0 && err == nil; tries++ {
		if tries == 100 {
			err = io.ErrNoProgress
			break
		}
		n, err = rd.r.Read(rd.buf[rd.end:])
	}
	rd.end += n
	if err != nil {
		if err == io.EOF {
			rd.eof = true
			return
		}
		if n == 0 {
			rd.err = fmt.Errorf("sse: read: %w", err)
		} else {
			// Parse what arrived with the error first; report it on the next fill.
			rd.r = errReader{err}
		}
	}
}

// errReader returns a stored error; it lets fill parse the bytes that arrived
// together with an error before reporting it.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// indexEOL returns the index of the first '\r' or '\n' in b, or -1. Two
// vectorised IndexByte calls beat bytes.IndexAny's byte loop.
func indexEOL(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	head := b
	if i >= 0 {
		head = b[:i]
	}
	if j := bytes.IndexByte(head, '\r'); j >= 0 {
		return j
	}
	return i
}
