package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/engine"
)

// slowLog makes every log line take a while, widening the window between
// a stream's last write and the handler's return.
type slowLog struct{}

func (slowLog) Write(p []byte) (int, error) { time.Sleep(5 * time.Millisecond); return len(p), nil }

// TestNoPingAfterFinalEvent: an upstream that sends its head and then cuts
// the body ends the stream with error, message_delta and message_stop, and
// nothing may follow message_stop, not even a ping from the timer armed
// when the stream began (found by review: the start timer fired after the
// final write while the handler was still logging).
func TestNoPingAfterFinalEvent(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
	}))
	t.Cleanup(up.Close)
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRig(t, eng, fakeupstream.Options{}, func(c *Config, _ *engine.Config) {
				c.UpstreamURL = up.URL + "/v1"
				c.Logger = zerolog.New(slowLog{})
				c.MaxRetries = -1
			})
			for i := 0; i < 20; i++ {
				resp := post(t, r.URL, "/v1/messages", []byte(streamBody), nil)
				evs := readEvents(t, resp.Body)
				resp.Body.Close()
				if n := len(evs); n == 0 || evs[n-1].Name != "message_stop" {
					t.Fatalf("stream %d does not end with message_stop: %v", i, names(evs))
				}
				checkGrammar(t, evs)
			}
		})
	}
}
