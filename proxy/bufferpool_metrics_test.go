package proxy

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/proxy/metrics"
)

// TestBufferPoolMetrics: a Claude Code turn's body and translation take
// large buffers; once it is answered they are back in the pool, and
// /v1/metrics says so.
func TestBufferPoolMetrics(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, nil)
	resp := post(t, r.URL, "/v1/messages", fixture(t, "cc-2.1.332-print-first-turn.json"), nil)
	checkGrammar(t, readEvents(t, resp.Body))
	resp.Body.Close()

	mr, err := http.Get(r.URL + "/v1/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer mr.Body.Close()
	var s struct {
		BufferPool *metrics.BufferPoolStats `json:"buffer_pool"`
	}
	if err := json.NewDecoder(mr.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	// The 55 KB body and its translation: two 64 KiB buffers, idle now.
	if b := s.BufferPool; b == nil || b.InUse != 0 || b.Idle != 2*64<<10 {
		t.Fatalf("buffer_pool %+v; want 0 in use and two 64 KiB buffers idle", b)
	}
}
