package metrics

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestBufferPoolStats: absent until installed, then read at scrape time in
// both the JSON and the Prometheus exposition.
func TestBufferPoolStats(t *testing.T) {
	m := New(Info{})
	get := func() map[string]json.RawMessage { return scrapeJSON(t, m) }
	if raw, ok := get()["buffer_pool"]; ok {
		t.Fatalf("buffer_pool present before SetBufferPool: %s", raw)
	}
	if _, ok := scrapeProm(t, m)["ccproxy_buffer_pool_bytes"]; ok {
		t.Fatal("ccproxy_buffer_pool_bytes present before SetBufferPool")
	}
	idle := int64(3 << 16)
	m.SetBufferPool(func() BufferPoolStats { return BufferPoolStats{InUse: 1 << 16, Idle: idle, Released: 5 << 16} })
	idle = 4 << 16 // read at scrape time, not at install time
	var got BufferPoolStats
	if err := json.Unmarshal(get()["buffer_pool"], &got); err != nil {
		t.Fatal(err)
	}
	if got != (BufferPoolStats{InUse: 1 << 16, Idle: 4 << 16, Released: 5 << 16}) {
		t.Fatalf("buffer_pool %+v", got)
	}
	fams := scrapeProm(t, m)
	for state, want := range map[string]float64{"in_use": 1 << 16, "idle": 4 << 16, "released": 5 << 16} {
		if v := find(t, fams, "ccproxy_buffer_pool_bytes", "state", state).GetGauge().GetValue(); v != want {
			t.Errorf("ccproxy_buffer_pool_bytes{state=%q} = %v, want %v", state, v, want)
		}
	}
}

// scrapeJSON fetches m's JSON exposition, its top-level members undecoded.
func scrapeJSON(t *testing.T, m *Metrics) map[string]json.RawMessage {
	t.Helper()
	srv := httptest.NewServer(m.JSONHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	return raw
}
