package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/engine"
)

// statsEngine is an engine with pool statistics and a description; it
// never sends anything.
type statsEngine struct{ open int }

func (e *statsEngine) Do(context.Context, *engine.Request) (*engine.Response, error) {
	return nil, engine.ErrDial
}
func (e *statsEngine) Close() error { return nil }
func (e *statsEngine) PoolStats() engine.PoolStats {
	return engine.PoolStats{Open: e.open, Created: int64(e.open)}
}
func (e *statsEngine) Describe() map[string]any {
	return map[string]any{"http2": true, "dial_timeout": 3 * time.Second, "engine": "stats"}
}

// plainEngine implements only engine.Engine.
type plainEngine struct{}

func (plainEngine) Do(context.Context, *engine.Request) (*engine.Response, error) {
	return nil, engine.ErrDial
}
func (plainEngine) Close() error { return nil }

func TestInfoFromEngine(t *testing.T) {
	e := &statsEngine{open: 3}
	info := Info{Settings: map[string]any{"engine": "override", "listen": "127.0.0.1:3456"}}
	info.FromEngine(e)
	m := New(info)
	e.open = 5 // read at scrape time, not at New
	s := m.Snapshot()
	if s.Pool == nil || s.Pool.Open != 5 || s.Pool.Created != 5 {
		t.Errorf("pool = %+v", s.Pool)
	}
	if s.Settings["http2"] != true || s.Settings["dial_timeout"] != "3s" || s.Settings["engine"] != "override" || s.Settings["listen"] != "127.0.0.1:3456" {
		t.Errorf("settings = %v", s.Settings)
	}

	var plain Info
	plain.FromEngine(plainEngine{})
	if plain.Pool != nil || plain.Settings != nil {
		t.Errorf("plain engine filled info: %+v", plain)
	}
	if New(plain).Snapshot().Pool != nil {
		t.Error("pool present for an engine without stats")
	}
}
