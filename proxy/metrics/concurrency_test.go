package metrics

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestConcurrentObserve records from many goroutines while both endpoints
// are scraped; run with -race. The final counts must be exact.
func TestConcurrentObserve(t *testing.T) {
	m := New(Info{Models: testModels, Pool: testPool})
	const workers, perWorker = 8, 300
	models := []string{"gpt-5", "qwen3-coder", "unknown"}
	routes := []string{"messages", "count_tokens", "chat_completions"}

	jsonSrv := httptest.NewServer(m.JSONHandler())
	defer jsonSrv.Close()
	promSrv := httptest.NewServer(m.PrometheusHandler())
	defer promSrv.Close()

	var wg sync.WaitGroup
	stop := make(chan struct{})
	var scrapeWG sync.WaitGroup
	scrapeWG.Add(1)
	go func() {
		defer scrapeWG.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, u := range []string{jsonSrv.URL, promSrv.URL} {
				resp, err := http.Get(u)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				done := m.RequestStarted()
				m.StreamOpened()
				if i%10 == 0 {
					m.Retry("timeout")
					m.SetBreakerState("up", "open")
				}
				m.Observe(&Request{
					Route: routes[i%len(routes)], Status: 200 + (i%2)*300,
					RequestedModel: "claude-haiku-4-5", ResolvedModel: models[(w+i)%len(models)],
					Stream: true, Total: time.Duration(i+1) * time.Microsecond * 100, UpstreamTotal: time.Duration(i+1) * time.Microsecond * 90,
					TTFT: time.Millisecond, InputTokens: 3, OutputTokens: 2, BytesIn: 10, UpstreamEncoding: "br",
					UpstreamWireBytes: 1, UpstreamBytes: 3,
				})
				m.StreamClosed()
				done()
			}
		}()
	}
	wg.Wait()
	close(stop)
	scrapeWG.Wait()

	s := m.Snapshot()
	const n = workers * perWorker
	if s.Requests.Total != n || s.Requests.InFlight != 0 || s.Requests.OpenStreams != 0 {
		t.Errorf("total/in_flight/open = %d/%d/%d", s.Requests.Total, s.Requests.InFlight, s.Requests.OpenStreams)
	}
	if s.Requests.ByStatus["200"] != n/2 || s.Requests.ByStatus["500"] != n/2 {
		t.Errorf("by status = %v", s.Requests.ByStatus)
	}
	if s.Requests.ByRequestedModel["haiku"] != n {
		t.Errorf("by requested = %v", s.Requests.ByRequestedModel)
	}
	if s.Latency.Total.Count != n || s.Latency.Overhead.Count != n || s.Latency.TTFT.Count != n {
		t.Errorf("latency counts = %d/%d/%d", s.Latency.Total.Count, s.Latency.Overhead.Count, s.Latency.TTFT.Count)
	}
	if s.Tokens.Input != 3*n || s.Tokens.Output != 2*n || s.Bytes.ClientIn != 10*n {
		t.Errorf("tokens/bytes = %+v %d", s.Tokens.TokenCounts, s.Bytes.ClientIn)
	}
	if br := s.Bytes.Upstream["br"]; br.Responses != n || br.Ratio != 3 {
		t.Errorf("br = %+v", br)
	}
	if s.Retries.ByCause["timeout"] != n/10 || s.CircuitBreakers["up"] != "open" {
		t.Errorf("retries/breakers = %v %v", s.Retries.ByCause, s.CircuitBreakers)
	}
}
