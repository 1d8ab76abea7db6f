package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/engine"
)

// TestNoUpstreamKeyNoAuthorization: without OPENAI_API_KEY (a local
// upstream that needs none) no Authorization header goes upstream, on
// every route. Before, ccproxy logged "sending requests upstream without
// credentials" and then sent "Authorization: Bearer" with an empty token,
// which a gateway that checks the header's syntax refuses.
func TestNoUpstreamKeyNoAuthorization(t *testing.T) {
	fake, err := fakeupstream.Start(fakeupstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	var (
		mu   sync.Mutex
		seen []string
	)
	// The fake upstream demands a key; this front records what came and
	// hands the request on with one.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if v, ok := r.Header["Authorization"]; ok {
			seen = append(seen, r.URL.Path+": "+strings.Join(v, ","))
		}
		mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequest(r.Method, fake.URL+r.URL.Path, strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer local")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(up.Close)
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			r := newRigFor(t, eng, up.URL, func(c *Config, _ *engine.Config) { c.UpstreamKey = "" }, nil)
			for _, c := range []struct{ path, body string }{
				{"/v1/messages", streamBody},
				{"/v1/messages", unaryBody},
				{"/v1/chat/completions", `{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`},
			} {
				resp := post(t, r.URL, c.path, []byte(c.body), nil)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: status %d", c.path, resp.StatusCode)
				}
			}
			resp, err := http.Get(r.URL + "/v1/models")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/v1/models: status %d", resp.StatusCode)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 0 {
				t.Fatalf("Authorization sent upstream without a key: %q", seen)
			}
		})
	}
}
