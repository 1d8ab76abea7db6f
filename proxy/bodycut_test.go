package proxy

import (
	"context"
	"io"
	"net/http"
	"testing"
)

// TestBodyCutShortByClientIs499: a client that leaves halfway through
// sending its body (HTTP/1.1: its connection closes; h2c: it resets the
// stream) is recorded as a client gone, 499, and not as a bad request
// (400 invalid_request_error, which it was): the body stopped short
// because nobody is sending it any more.
func TestBodyCutShortByClientIs499(t *testing.T) {
	r := newRigFor(t, "nethttp", "http://127.0.0.1:1", nil, nil)
	for i, fe := range frontEnds(t, r) {
		t.Run(fe.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pr, pw := io.Pipe()
			defer pw.Close()
			done := make(chan struct{})
			go func() {
				defer close(done)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, fe.url+"/v1/messages", pr)
				req.ContentLength = int64(len(streamBody))
				req.Header.Set("Content-Type", "application/json")
				if resp, err := fe.client.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
			pw.Write([]byte(streamBody[:len(streamBody)/2]))
			eventually(t, func() bool { return r.Metrics.Snapshot().Requests.BufferedBytes > 0 },
				func() string { return "the handler never started reading the body" })
			cancel() // the client leaves mid-body
			// The transport waits for its body's reader to return.
			pw.CloseWithError(context.Canceled)
			<-done
			eventually(t, func() bool { return r.Metrics.Snapshot().Requests.Total == int64(i+1) },
				func() string { return "the request was never recorded" })
			if s := r.Metrics.Snapshot().Requests.ByStatus; s["499"] != int64(i+1) {
				t.Fatalf("statuses %v, want %d 499s (client gone)", s, i+1)
			}
		})
	}
}
