package metrics

import "testing"

// TestModelBreakers: the per-model breaker states installed with
// SetModelBreakers are read at scrape time: by model in the JSON
// snapshot, as counts by state in the exposition (model names are not
// labels); absent until installed.
func TestModelBreakers(t *testing.T) {
	m := New(Info{})
	if s := m.Snapshot(); s.ModelCircuitBreakers != nil {
		t.Fatalf("model breakers %v before any were installed", s.ModelCircuitBreakers)
	}
	if _, ok := scrapeProm(t, m)["ccproxy_model_circuit_breakers"]; ok {
		t.Fatal("ccproxy_model_circuit_breakers present before any were installed")
	}
	states := map[string]string{"gpt-4.1": "open", "gpt-4.1-mini": "closed", "o3": "open", "(other)": "half_open"}
	m.SetModelBreakers(func() map[string]string {
		out := make(map[string]string, len(states))
		for k, v := range states {
			out[k] = v
		}
		return out
	})
	s := getJSON(t, m.JSONHandler())
	if len(s.ModelCircuitBreakers) != 4 || s.ModelCircuitBreakers["gpt-4.1"] != "open" || s.ModelCircuitBreakers["(other)"] != "half_open" {
		t.Fatalf("model breakers %v", s.ModelCircuitBreakers)
	}
	fams := scrapeProm(t, m)
	for st, want := range map[string]float64{"open": 2, "closed": 1, "half_open": 1} {
		if got := find(t, fams, "ccproxy_model_circuit_breakers", "state", st).GetGauge().GetValue(); got != want {
			t.Errorf("ccproxy_model_circuit_breakers{state=%q} = %v, want %v", st, got, want)
		}
	}
}
