package fakeupstream

import (
	"sync"
	"time"
)

// FaultKind says what an injected Fault does.
type FaultKind int

const (
	// Status answers with Fault.Status (default 500), Fault.Body (default an
	// OpenAI error JSON matching the status) and, if set, a Retry-After
	// header of Fault.RetryAfter.
	Status FaultKind = iota + 1
	// ResetBeforeHeaders aborts before any response byte: HTTP/1.1 closes
	// the connection, HTTP/2 resets the stream.
	ResetBeforeHeaders
	// ResetMidStream sends AfterChunks events, then aborts the same way
	// (the HTTP/1.1 chunked body never terminates). For unary requests the
	// headers and half the JSON body are sent first.
	ResetMidStream
	// Truncate sends AfterChunks events, then ends the response cleanly
	// without finish_reason, usage or [DONE]. For unary requests: a clean
	// end after half the JSON body.
	Truncate
	// MalformedChunk sends "data: {not json" as an event after AfterChunks
	// events, then carries on with the normal stream. For unary requests
	// the 200 body is "{not json".
	MalformedChunk
	// StreamError sends `data: {"error":{"message":Body,"type":"server_error"}}`
	// after AfterChunks events, then ends cleanly without [DONE]. For unary
	// requests the 200 body is that error object.
	StreamError
	// SlowHeaders waits Delay (or until the client goes away) before the
	// headers, then answers normally.
	SlowHeaders
	// Stall sends AfterChunks events, then waits Delay or until the client
	// goes away, then carries on normally. For unary requests the stall is
	// after the headers, before the body.
	Stall
)

// String names the kind.
func (k FaultKind) String() string {
	switch k {
	case Status:
		return "Status"
	case ResetBeforeHeaders:
		return "ResetBeforeHeaders"
	case ResetMidStream:
		return "ResetMidStream"
	case Truncate:
		return "Truncate"
	case MalformedChunk:
		return "MalformedChunk"
	case StreamError:
		return "StreamError"
	case SlowHeaders:
		return "SlowHeaders"
	case Stall:
		return "Stall"
	case 0:
		return "none"
	}
	return "FaultKind(?)"
}

// Fault is one injected misbehaviour. In streams AfterChunks counts SSE
// events already sent, the role chunk included: 0 acts right after the
// headers, 1 after the role chunk, and so on. A value past the end of the
// stream acts just before [DONE].
type Fault struct {
	Kind        FaultKind
	Status      int
	Body        string
	RetryAfter  string
	AfterChunks int
	Delay       time.Duration
}

// faultQueue is a FIFO of faults.
type faultQueue struct {
	mu sync.Mutex
	q  []Fault
}

func (f *faultQueue) push(fs ...Fault) {
	f.mu.Lock()
	f.q = append(f.q, fs...)
	f.mu.Unlock()
}

func (f *faultQueue) pop() (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.q) == 0 {
		return Fault{}, false
	}
	x := f.q[0]
	f.q[0] = Fault{}
	f.q = f.q[1:]
	if len(f.q) == 0 {
		f.q = nil
	}
	return x, true
}

func (f *faultQueue) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.q)
}
