package proxy

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/engine"
)

// TestOwnStreamEndRecorded: a stream ccproxy ends itself is recorded with
// the error type the client was sent (shutting down: overloaded_error;
// MAX_STREAM_SECONDS: api_error), and not logged as an upstream failure.
func TestOwnStreamEndRecorded(t *testing.T) {
	for _, c := range []struct {
		name    string
		mod     func(*Config, *engine.Config)
		stop    bool
		errType string
	}{
		{"shutdown", nil, true, errOverloaded},
		// A second: the head must come first, even on a loaded machine.
		{"max stream duration", func(c *Config, _ *engine.Config) { c.MaxStreamDuration = time.Second }, false, errAPI},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, "nethttp", fakeupstream.Options{}, c.mod)
			r.Up.InjectFaults(fakeupstream.Fault{Kind: fakeupstream.Stall, AfterChunks: 2, Delay: 10 * time.Second})
			resp := post(t, r.URL, "/v1/messages", []byte(streamBody), nil)
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if c.stop {
				eventually(t, func() bool { return r.Metrics.Snapshot().Requests.OpenStreams == 1 },
					func() string { return "the stream never opened" })
				r.H.Stop()
			}
			evs := readEvents(t, resp.Body)
			data := checkGrammar(t, evs)
			i := slices.Index(names(evs), "error")
			if i < 0 {
				t.Fatalf("want an error event: %v", names(evs))
			}
			if got := data[i]["error"].(map[string]any)["type"]; got != c.errType {
				t.Fatalf("error event type %v, want %s", got, c.errType)
			}
			eventually(t, func() bool { return r.Metrics.Snapshot().Requests.Total == 1 },
				func() string { return "request not recorded" })
			if by := r.Metrics.Snapshot().Errors.ByType; by[c.errType] != 1 || len(by) != 1 {
				b, _ := json.Marshal(by)
				t.Fatalf("errors by type %s, want one %s (what the client was sent)", b, c.errType)
			}
			if logs := r.logs(); strings.Contains(logs, "upstream stream failed") {
				t.Fatalf("ccproxy's own end of the stream logged as an upstream failure:\n%s", logs)
			}
		})
	}
}
