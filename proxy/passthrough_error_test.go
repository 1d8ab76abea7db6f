package proxy

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ccproxy/ccproxy/engine"
)

// gzipErrorUpstream answers every request with an OpenAI 401 whose body
// is gzip-compressed when the request accepts gzip, as api.openai.com
// (behind its CDN) does.
func gzipErrorUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		body := `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, body)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Vary", "Accept-Encoding")
		w.WriteHeader(http.StatusUnauthorized)
		zw := gzip.NewWriter(w)
		io.WriteString(zw, body)
		zw.Close()
	}))
	t.Cleanup(up.Close)
	return up
}

// TestPassthroughCompressedUpstreamError: an upstream error on the
// passthrough route reaches a client that accepts gzip (Go's default
// transport, so openai-go; Python's httpx) readable. It failed before: the
// compressed bytes went out without their Content-Encoding, so the client
// could neither decode nor parse them.
func TestPassthroughCompressedUpstreamError(t *testing.T) {
	up := gzipErrorUpstream(t)
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRigFor(t, eng, up.URL, func(c *Config, _ *engine.Config) { c.MaxRetries = -1 }, nil)
			for _, route := range []struct{ method, path, body string }{
				{http.MethodPost, "/v1/chat/completions", `{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`},
				{http.MethodGet, "/v1/models", ""},
			} {
				req, err := http.NewRequest(route.method, r.URL+route.path, strings.NewReader(route.body))
				if err != nil {
					t.Fatal(err)
				}
				// The default transport asks for gzip and decodes what says it is gzip.
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var e struct {
					Error struct{ Message string }
				}
				if resp.StatusCode != http.StatusUnauthorized || json.Unmarshal(b, &e) != nil || e.Error.Message != "Incorrect API key provided" {
					t.Fatalf("%s: status %d body %q", route.path, resp.StatusCode, b)
				}
			}
		})
	}
}
