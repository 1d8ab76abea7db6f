package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
)

// TestPassthroughHeaders: the passthrough route forwards exactly the
// client's Content-Type (application/json when it sent none), Accept,
// Accept-Encoding and OpenAI-Beta, each once; never the client's key or
// any other header.
func TestPassthroughHeaders(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRig(t, eng, fakeupstream.Options{}, nil)
			body := `{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`
			send := func(hdr http.Header) http.Header {
				t.Helper()
				req, _ := http.NewRequest(http.MethodPost, r.URL+"/v1/chat/completions", strings.NewReader(body))
				req.Header = hdr
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("status %d", resp.StatusCode)
				}
				return r.Up.LastRequest().Header
			}
			got := send(http.Header{
				"Content-Type":  {"application/json; charset=utf-8", "text/plain"},
				"Accept":        {"application/json"},
				"Openai-Beta":   {"assistants=v2"},
				"Authorization": {"Bearer sk-client-key"},
				"X-Custom":      {"nope"},
			})
			for k, want := range map[string]string{"Content-Type": "application/json; charset=utf-8", "Accept": "application/json",
				"Openai-Beta": "assistants=v2", "Authorization": "Bearer " + upstreamSecret} {
				if vs := got.Values(k); len(vs) != 1 || vs[0] != want {
					t.Errorf("upstream %s = %q, want [%q]", k, vs, want)
				}
			}
			if got.Get("X-Custom") != "" {
				t.Errorf("a header the route does not forward reached the upstream: %v", got)
			}
			if ct := send(http.Header{}).Values("Content-Type"); len(ct) != 1 || ct[0] != "application/json" {
				t.Errorf("upstream Content-Type %q for a request without one, want [application/json]", ct)
			}
		})
	}
}
