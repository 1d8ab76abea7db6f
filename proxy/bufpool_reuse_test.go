package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/internal/bufpool"
)

// earlyHeadUpstream answers a chat completion's head before it reads the
// request body, reads the body only once gate is closed, and hands it to
// bodies. Over h2c its small flow-control windows keep most of a large
// body unsent until then.
func earlyHeadUpstream(t *testing.T, h2c bool) (url string, headSent chan struct{}, gate chan struct{}, bodies chan []byte) {
	headSent, gate, bodies = make(chan struct{}, 1), make(chan struct{}), make(chan []byte, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		headSent <- struct{}{}
		<-gate
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("upstream reading the request body: %v", err)
		}
		bodies <- body
		io.WriteString(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"}}]}\n\n")
		io.WriteString(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n")
	}))
	if h2c {
		srv.Config.Protocols = new(http.Protocols)
		srv.Config.Protocols.SetUnencryptedHTTP2(true)
		srv.Config.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerStream: 65535, MaxReceiveBufferPerConnection: 65535}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	var once bool
	t.Cleanup(func() { // before srv.Close runs
		if !once {
			once = true
			select {
			case <-gate:
			default:
				close(gate)
			}
		}
	})
	return srv.URL, headSent, gate, bodies
}

// TestUpstreamBodyOutlivesItsBuffer: an upstream that answers before it
// has read the request body (net/http's transports then return while the
// body is still being written, over HTTP/2 especially) receives the body
// ccproxy translated, intact, although ccproxy gave the buffer holding the
// translation back to its pool as soon as the head came and another
// request has overwritten it since. The engine must not read the caller's
// slice after Do returns.
func TestUpstreamBodyOutlivesItsBuffer(t *testing.T) {
	for _, h2c := range []bool{false, true} {
		name := "HTTP/1.1"
		if h2c {
			name = "h2c"
		}
		t.Run(name, func(t *testing.T) {
			upURL, headSent, gate, bodies := earlyHeadUpstream(t, h2c)
			r := newRigFor(t, "nethttp", upURL, func(_ *Config, ec *engine.Config) { ec.H2C = h2c }, nil)
			marker := strings.Repeat("0123456789abcdef", 300<<10/16)
			req := `{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"` + marker + `"}]}`
			respc := make(chan *http.Response, 1)
			go func() {
				resp, err := http.Post(r.URL+"/v1/messages", "application/json", strings.NewReader(req))
				if err != nil {
					t.Error(err)
				}
				respc <- resp
			}()
			<-headSent
			deadline := time.Now().Add(10 * time.Second) // a hang guard, not a timing assertion
			for r.H.large.Stats().InUse != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("the translation's buffer never went back: %+v", r.H.large.Stats())
				}
				time.Sleep(time.Millisecond)
			}
			// Another request takes the buffer just put back (last in, first
			// out) and writes all over it.
			class := bufpool.ClassSize(len(req) + 1)
			b := r.H.large.Get(class)
			junk := (*b)[:cap(*b)]
			for i := range junk {
				junk[i] = 'X'
			}
			close(gate)
			body := <-bodies
			r.H.large.Put(b)
			var got struct {
				Messages []struct{ Content any }
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("upstream got an invalid body (%d bytes, %d of them X): %v", len(body), bytes.Count(body, []byte("X")), err)
			}
			if !bytes.Contains(body, []byte(marker)) {
				t.Fatal("upstream body lacks the client's message")
			}
			wantMessageStop(t, <-respc, "turn")
		})
	}
}
