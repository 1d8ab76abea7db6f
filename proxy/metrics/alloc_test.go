//go:build !race

package metrics

import (
	"io"
	"testing"

	"github.com/rs/zerolog"
)

func TestObserveAllocs(t *testing.T) {
	m := New(Info{Models: testModels})
	r := benchRequest()
	m.Observe(r) // first sight of the label combination creates its series
	if n := testing.AllocsPerRun(1000, func() { m.Observe(r) }); n != 0 {
		t.Errorf("Observe allocates %v times per call, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		done := m.RequestStarted()
		m.StreamOpened()
		m.Retry("status_5xx")
		m.StreamClosed()
		done()
	}); n != 0 {
		t.Errorf("gauges and Retry allocate %v times, want 0", n)
	}
	log := zerolog.New(io.Discard).With().Timestamp().Logger()
	if n := testing.AllocsPerRun(1000, func() {
		m.Observe(r)
		logRequest(log, r)
	}); n > 2 {
		t.Errorf("Observe plus access log allocate %v times, want <= 2", n)
	}
}
