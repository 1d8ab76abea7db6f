package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestOverheadExcludesUpstreamTail: an upstream that sends its last
// chunk (finish and usage) and then takes its time over "data: [DONE]"
// keeps the client's response open while ccproxy waits for it (up to
// drainWait), and that wait is the upstream's time. The request's log
// line counts it as such: duration minus overhead (the upstream's part)
// covers the wait. It was counted as ccproxy's overhead, so a paced
// upstream (the demo's, 25 ms between chunks) showed every turn with
// ~25 ms of "overhead".
func TestOverheadExcludesUpstreamTail(t *testing.T) {
	tail := 3 * drainWait // the drain gives up after drainWait
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, c := range []string{
			`{"id":"c1","object":"chat.completion.chunk","model":"gpt-4.1","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"}}]}`,
			`{"id":"c1","object":"chat.completion.chunk","model":"gpt-4.1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
			`{"id":"c1","object":"chat.completion.chunk","model":"gpt-4.1","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`,
		} {
			_, _ = w.Write([]byte("data: " + c + "\n\n"))
		}
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(tail):
		}
		_, _ = w.Write([]byte("data: [DONE]\n\n"))
	}))
	defer up.Close()
	defer close(release)
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRigFor(t, eng, up.URL, nil, nil)
			resp := post(t, r.URL, "/v1/messages", []byte(`{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`), nil)
			wantMessageStop(t, resp, "stream")
			var line struct {
				Duration float64 `json:"duration_ms"`
				Overhead float64 `json:"overhead_ms"`
			}
			for _, l := range strings.Split(r.logs(), "\n") {
				if strings.Contains(l, `"message":"request"`) {
					if err := json.Unmarshal([]byte(l), &line); err != nil {
						t.Fatal(err)
					}
				}
			}
			if line.Duration == 0 {
				t.Fatalf("no request log line: %s", r.logs())
			}
			waited := float64(drainWait) / float64(time.Millisecond)
			if up := line.Duration - line.Overhead; up < waited {
				t.Fatalf("duration %.1f ms, overhead %.1f ms: the upstream's part (%.1f ms) misses the %.0f ms waited for its end",
					line.Duration, line.Overhead, up, waited)
			}
		})
	}
}
