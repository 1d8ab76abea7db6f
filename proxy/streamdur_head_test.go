package proxy

import (
	"encoding/json"
	"io"
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
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e struct {
				Type  string `json:"type"`
				Error struct{ Type, Message string }
			}
			if resp.StatusCode != http.StatusGatewayTimeout || json.Unmarshal(b, &e) != nil || e.Type != "error" ||
				e.Error.Type != "api_error" || !strings.Contains(e.Error.Message, "MAX_STREAM_SECONDS") {
				t.Fatalf("status %d body %q; want 504 with an api_error naming MAX_STREAM_SECONDS", resp.StatusCode, b)
			}
			if s := r.Metrics.Snapshot().Requests.ByStatus; s["504"] != 1 || s["499"] != 0 {
				t.Fatalf("statuses %v; want the 504 recorded, no 499", s)
			}
		})
	}
}
