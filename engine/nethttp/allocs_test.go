//go:build !race

package nethttp

import (
	"net/http"
	"testing"

	"github.com/ccproxy/ccproxy/engine"
)

// TestAllocsPerRequest pins the engine's own allocations for one unary
// HTTP/1.1 request read to EOF (the upstream allocates nothing).
func TestAllocsPerRequest(t *testing.T) {
	url := rawUpstream(t, benchResp)
	e := newTestEngine(t, nil)
	hdr := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer sk-bench"}}
	req := &engine.Request{Method: http.MethodPost, URL: url + "/v1/chat/completions", Header: hdr, Body: benchReq}
	buf := make([]byte, 32<<10)
	if err := roundTrip(e, req, buf); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		if err := roundTrip(e, req, buf); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("allocs per request: %.1f", allocs)
	const limit = 60
	if allocs > limit {
		t.Fatalf("%.1f allocs per request, want <= %d", allocs, limit)
	}
}
