package fakeupstream

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// ControlPrefix is the path under which a server started with
// Options.Control answers its control requests (JSON in and out):
//
//	GET  /_fakeupstream/options       the run-time-mutable options (ControlOptions)
//	POST /_fakeupstream/options       replace them (a ControlOptions body); 400 if invalid
//	GET  /_fakeupstream/stats         Stats
//	GET  /_fakeupstream/last-request  the last Recorded request (404 if none)
//
// Control requests are not counted in Stats.Requests or ByProto and not
// recorded, and a connection whose first request is a control request is
// not counted in Stats.ConnsAccepted, so that a parent process driving a
// child (see Spawn) sees only its clients' traffic.
const ControlPrefix = "/_fakeupstream/"

// ControlOptions are the options a control client reads and sets: every
// field of Options that SetOptions may change. Durations are nanoseconds.
type ControlOptions struct {
	HeaderDelay     time.Duration `json:"header_delay"`
	FirstChunkDelay time.Duration `json:"first_chunk_delay"`
	ChunkInterval   time.Duration `json:"chunk_interval"`
	Chunks          int           `json:"chunks"`
	ReplyBytes      int           `json:"reply_bytes"`
	Compression     string        `json:"compression"`
	Reasoning       bool          `json:"reasoning"`
	TextOnly        bool          `json:"text_only"`
}

// controlOptions extracts the mutable fields of o.
func controlOptions(o Options) ControlOptions {
	return ControlOptions{HeaderDelay: o.HeaderDelay, FirstChunkDelay: o.FirstChunkDelay, ChunkInterval: o.ChunkInterval,
		Chunks: o.Chunks, ReplyBytes: o.ReplyBytes, Compression: o.Compression, Reasoning: o.Reasoning, TextOnly: o.TextOnly}
}

// apply copies c's fields into o.
func (c ControlOptions) apply(o *Options) {
	o.HeaderDelay, o.FirstChunkDelay, o.ChunkInterval = c.HeaderDelay, c.FirstChunkDelay, c.ChunkInterval
	o.Chunks, o.ReplyBytes, o.Compression, o.Reasoning, o.TextOnly = c.Chunks, c.ReplyBytes, c.Compression, c.Reasoning, c.TextOnly
}

// Connection states of a control-enabled server, kept per connection in
// its context (connStateKey) so that control connections are not counted.
const (
	connFresh   int32 = iota // no request yet
	connClient               // first request was a client's
	connControl              // first request was a control request
)

type connStateKey struct{}

// withConnState is http.Server.ConnContext of a control-enabled server.
func withConnState(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connStateKey{}, new(atomic.Int32))
}

// markConn records the kind of a connection's first request; it reports
// whether this request was that first one.
func markConn(r *http.Request, kind int32) bool {
	st, ok := r.Context().Value(connStateKey{}).(*atomic.Int32)
	return ok && st.CompareAndSwap(connFresh, kind)
}

// serveControl answers a request under ControlPrefix.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	if markConn(r, connControl) {
		s.stats.conns.Add(-1) // counted at accept: not a client's connection
	}
	switch strings.TrimPrefix(r.URL.Path, ControlPrefix) {
	case "options":
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, controlOptions(s.Options()))
		case http.MethodPost:
			var c ControlOptions
			dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&c); err != nil {
				writeJSON(w, http.StatusBadRequest, controlError{fmt.Sprintf("decode options: %v", err)})
				return
			}
			if err := s.setOptions(c.apply); err != nil {
				writeJSON(w, http.StatusBadRequest, controlError{err.Error()})
				return
			}
			writeJSON(w, http.StatusOK, controlOptions(s.Options()))
		default:
			writeJSON(w, http.StatusMethodNotAllowed, controlError{"GET or POST"})
		}
	case "stats":
		if r.Method != http.MethodGet {
			writeJSON(w, http.StatusMethodNotAllowed, controlError{"GET"})
			return
		}
		writeJSON(w, http.StatusOK, s.Stats())
	case "last-request":
		if r.Method != http.MethodGet {
			writeJSON(w, http.StatusMethodNotAllowed, controlError{"GET"})
			return
		}
		rec := s.LastRequest()
		if rec.Method == "" {
			writeJSON(w, http.StatusNotFound, controlError{"no request recorded"})
			return
		}
		writeJSON(w, http.StatusOK, rec)
	default:
		writeJSON(w, http.StatusNotFound, controlError{"unknown control path " + r.URL.Path})
	}
}

// controlError is the body of a failed control request.
type controlError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
