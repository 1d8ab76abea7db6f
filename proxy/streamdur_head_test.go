package proxy

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/engine"
)

// TestMaxStreamBeforeHead: when MAX_STREAM_SECONDS runs out before the
// upstream's response head, nothing has been sent, so the client gets 504
// with an Anthropic error naming the limit (it got an empty 200, recorded
// as a client that left).
func TestMaxStreamBeforeHead(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRig(t, eng, fakeupstream.Options{HeaderDelay: 3 * time.Second}, func(c *Config, _ *engine.Config) {
				c.MaxStreamDuration = 300 * time.Millisecond
			})
			resp := post(t, r.URL, "/v1/messages", []byte(streamBody), nil)
			if resp.StatusCode != http.StatusGatewayTimeout {
				resp.Body.Close()
				t.Fatalf("status %d; want 504", resp.StatusCode)
			}
			if typ, msg := errorBody(t, resp); typ != "api_error" || !strings.Contains(msg, "MAX_STREAM_SECONDS") {
				t.Fatalf("error %s %q; want an api_error naming MAX_STREAM_SECONDS", typ, msg)
			}
			if s := r.Metrics.Snapshot().Requests.ByStatus; s["504"] != 1 || s["499"] != 0 {
				t.Fatalf("statuses %v; want the 504 recorded, no 499", s)
			}
		})
	}
}
