package fakeupstream

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var protocols = []struct {
	proto Protocol
	want  string // r.Proto the server must record
}{
	{H1, "HTTP/1.1"},
	{H2C, "HTTP/2.0"},
	{TLS, "HTTP/2.0"},
}

// start runs a server for the test and closes it (and the client's idle
// connections) at cleanup.
func start(t testing.TB, opts Options) (*Server, *http.Client) {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Client()
	t.Cleanup(func() {
		c.CloseIdleConnections()
		s.Close()
	})
	return s, c
}

func chatBody(stream, usage bool, extra string) string {
	b := `{"model":"gpt-test","messages":[{"role":"system","content":"sys"},{"role":"user","content":"hello there"}]`
	if stream {
		b += `,"stream":true`
	}
	if usage {
		b += `,"stream_options":{"include_usage":true}`
	}
	return b + extra + "}"
}

// post sends a chat completion; ctx may be nil.
func post(t testing.TB, ctx context.Context, s *Server, c *http.Client, body string, hdr ...string) *http.Response {
	t.Helper()
	if ctx == nil {
		ctx = context.Background()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer sk-test")
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readAll(t testing.TB, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sse reads "data:" events one at a time.
type sse struct{ r *bufio.Reader }

func newSSE(r io.Reader) *sse { return &sse{bufio.NewReader(r)} }

// next returns the next event's data, or an error (io.EOF at a clean end).
func (s *sse) next() (string, error) {
	var data []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if err == io.EOF && line != "" {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if data != nil {
				return strings.Join(data, "\n"), nil
			}
			continue
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			data = append(data, d)
		}
	}
}

// all reads events to the end.
func (s *sse) all() ([]string, error) {
	var out []string
	for {
		ev, err := s.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
}

// streamSummary checks every event is a well-formed chunk and collects
// what the stream said.
type streamSummary struct {
	role, content, reasoning, finish string
	toolName, toolID, toolArgs       string
	usage                            gjson.Result
	done                             bool
	chunks                           int // events with choices (role, content, finish...)
}

func summarize(t *testing.T, events []string) streamSummary {
	t.Helper()
	var s streamSummary
	id := ""
	for i, ev := range events {
		if s.done {
			t.Fatalf("event after [DONE]: %q", ev)
		}
		if ev == "[DONE]" {
			s.done = true
			continue
		}
		if !gjson.Valid(ev) {
			t.Fatalf("event %d is not JSON: %q", i, ev)
		}
		j := gjson.Parse(ev)
		if j.Get("object").Str != "chat.completion.chunk" || j.Get("model").Str != "gpt-test" || j.Get("created").Int() == 0 {
			t.Fatalf("event %d lacks object/model/created: %s", i, ev)
		}
		if id == "" {
			id = j.Get("id").Str
		} else if j.Get("id").Str != id {
			t.Fatalf("id changed within the stream: %s", ev)
		}
		ch := j.Get("choices")
		if len(ch.Array()) == 0 {
			s.usage = j.Get("usage")
			continue
		}
		s.chunks++
		c := ch.Get("0")
		d := c.Get("delta")
		if r := d.Get("role"); r.Exists() {
			s.role = r.Str
		}
		s.content += d.Get("content").Str
		s.reasoning += d.Get("reasoning_content").Str
		if tc := d.Get("tool_calls.0"); tc.Exists() {
			if tc.Get("index").Int() != 0 {
				t.Fatalf("tool call index: %s", ev)
			}
			if n := tc.Get("function.name").Str; n != "" {
				s.toolName, s.toolID = n, tc.Get("id").Str
			}
			s.toolArgs += tc.Get("function.arguments").Str
		}
		if f := c.Get("finish_reason"); f.Type == gjson.String {
			s.finish = f.Str
		}
	}
	return s
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newHTTPTestServer(h http.Handler) *httptest.Server { return httptest.NewServer(h) }

// bounded returns a context that ends the test's request after 20 s, so a
// broken flush fails the test instead of hanging it.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
