package enginetest

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/ccproxy/ccproxy/engine"
)

// testUserAgent: the engine sends the caller's User-Agent unchanged and,
// when the caller set none, no User-Agent at all: never its HTTP library's
// own (Go-http-client/1.1, fasthttp), which would tell the upstream about
// ccproxy's internals and differ between engines. The caller's Header is
// left as it was.
func (s *suite) testUserAgent(t *testing.T, kind string) {
	seen := make(chan []string, 1)
	u, e := s.setup(t, kind, nil, func(_ *upstream, w http.ResponseWriter, r *http.Request) {
		seen <- slices.Clone(r.Header["User-Agent"])
		_, _ = w.Write([]byte("ok"))
	})
	const claude = "claude-cli/2.1.3 (external, cli)"
	for i, tc := range []struct {
		header http.Header
		want   []string
	}{
		{nil, nil},
		{http.Header{"Content-Type": {"application/json"}}, nil},
		{http.Header{"Content-Type": {"application/json"}, "Accept-Encoding": {"identity"}}, nil},
		{http.Header{"User-Agent": {claude}}, []string{claude}},
		{http.Header{"User-Agent": {claude}, "Accept-Encoding": {"identity"}}, []string{claude}},
		{http.Header{"User-Agent": {""}}, nil},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			before := tc.header.Clone()
			resp := do(t, e, testCtx(t), &engine.Request{Method: http.MethodPost, URL: u.URL + "/ua",
				Header: tc.header, Body: []byte("{}")})
			if b := readBody(t, resp); string(b) != "ok" {
				t.Fatalf("body %q", b)
			}
			var got []string
			select {
			case got = <-seen:
			default:
				t.Fatal("handler did not run")
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("caller's header %v: upstream saw User-Agent %q, want %q", tc.header, got, tc.want)
			}
			if fmt.Sprint(tc.header) != fmt.Sprint(before) {
				t.Errorf("Do modified the caller's header: %v, was %v", tc.header, before)
			}
		})
	}
}
