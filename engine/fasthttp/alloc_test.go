//go:build !race

package fasthttp

import (
	"testing"

	"github.com/ccproxy/ccproxy/engine"
)

// TestResponseHeaderAllocs pins the cost of building the http.Header for a
// typical head whose names are all interned: the map, one value string, one
// value-slice array, and the iterator closures of fasthttp's All().
func TestResponseHeaderAllocs(t *testing.T) {
	h := parsedHeader(t)
	got := testing.AllocsPerRun(200, func() { _ = responseHeader(h, false) })
	if got > 5 {
		t.Fatalf("responseHeader allocs = %v, want <= 5", got)
	}
}

// TestDoAllocs pins the per-request allocations of a unary round trip
// (engine.Response, body, header copy, AfterFunc-free background ctx).
func TestDoAllocs(t *testing.T) {
	url := benchUpstream(t, unaryResponse)
	e, err := New(engine.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	req := benchRequest(url)
	buf := make([]byte, 4096)
	doDrain(t, e, req, buf)
	got := testing.AllocsPerRun(200, func() { doDrain(t, e, req, buf) })
	t.Logf("allocs per request: %v", got)
	if got > 10 {
		t.Fatalf("Do allocs = %v, want <= 10", got)
	}
}
