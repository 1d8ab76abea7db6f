package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/engine"
)

// TestStreamFirstTurn sends Claude Code's real first turn through every
// engine and upstream protocol: the answer (a Bash tool call from the fake
// upstream) must come back in Anthropic's exact grammar.
func TestStreamFirstTurn(t *testing.T) {
	body := fixture(t, "cc-2.1.332-print-first-turn.json")
	for _, eng := range engines() {
		for _, proto := range []fakeupstream.Protocol{fakeupstream.H1, fakeupstream.H2C, fakeupstream.TLS} {
			if eng == "fasthttp" && proto == fakeupstream.H2C {
				continue // fasthttp speaks HTTP/1.1 only
			}
			t.Run(eng+"/"+string(proto), func(t *testing.T) {
				r := newRig(t, eng, fakeupstream.Options{Protocol: proto}, nil)
				resp := post(t, r.URL, "/v1/messages?beta=true", body, nil)
				defer resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("status %d", resp.StatusCode)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
					t.Fatalf("content-type %q", ct)
				}
				if resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("x-request-id") == "" ||
					resp.Header.Get("Server-Timing") == "" || resp.Header.Get("x-ccproxy-overhead-us") == "" {
					t.Fatalf("headers: %v", resp.Header)
				}
				// Date is ccproxy's own (formatted once a second), as net/http would send it.
				if d, err := http.ParseTime(resp.Header.Get("Date")); err != nil || time.Since(d) > time.Minute || time.Until(d) > time.Minute || len(resp.Header.Values("Date")) != 1 {
					t.Fatalf("Date %q: %v", resp.Header.Values("Date"), err)
				}
				evs := readEvents(t, resp.Body)
				data := checkGrammar(t, evs)
				if m := data[0]["message"].(map[string]any); m["model"] != "claude-opus-5-5" {
					t.Fatalf("message_start model %v, want the client's model", m["model"])
				}
				// The tool call's arguments, rebuilt from the deltas.
				var args strings.Builder
				var tool map[string]any
				for _, d := range data {
					if d["type"] == "content_block_start" {
						if cb := d["content_block"].(map[string]any); cb["type"] == "tool_use" {
							tool = cb
						}
					}
					if d["type"] == "content_block_delta" {
						if dl := d["delta"].(map[string]any); dl["type"] == "input_json_delta" {
							args.WriteString(dl["partial_json"].(string))
						}
					}
				}
				if tool == nil || tool["name"] != "Bash" || !strings.HasPrefix(tool["id"].(string), "call_") && !strings.HasPrefix(tool["id"].(string), "toolu_") {
					t.Fatalf("tool_use block %v", tool)
				}
				var in map[string]any
				if err := json.Unmarshal([]byte(args.String()), &in); err != nil || in["command"] == nil {
					t.Fatalf("tool input %q: %v", args.String(), err)
				}
				md := data[len(data)-2]
				if md["type"] != "message_delta" || md["delta"].(map[string]any)["stop_reason"] != "tool_use" {
					t.Fatalf("message_delta %v", md)
				}
				if u := md["usage"].(map[string]any); u["output_tokens"].(float64) <= 0 {
					t.Fatalf("usage %v", u)
				}
				// What went upstream: the translated body, ccproxy's key, never the client's.
				got := r.Up.LastRequest()
				if got.Header.Get("Authorization") != "Bearer "+upstreamSecret || got.Header.Get("x-api-key") != "" {
					t.Fatalf("upstream credentials: %v", got.Header)
				}
				if bytes.Contains(got.Body, []byte("sk-client-key")) {
					t.Fatal("client key reached the upstream")
				}
				var up map[string]any
				if err := json.Unmarshal(got.Body, &up); err != nil || up["model"] != "gpt-4.1" || up["stream"] != true {
					t.Fatalf("upstream body model/stream: %v %v (%v)", up["model"], up["stream"], err)
				}
				want := "HTTP/1.1"
				if proto != fakeupstream.H1 && eng == "nethttp" {
					want = "HTTP/2.0"
				}
				if got.Proto != want {
					t.Fatalf("upstream saw %s, want %s", got.Proto, want)
				}
			})
		}
	}
}

// TestUnaryMessage: a non-streamed request gets one Anthropic message.
func TestUnaryMessage(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRig(t, eng, fakeupstream.Options{}, nil)
			body := `{"model":"claude-3-5-haiku-latest","max_tokens":100,"messages":[{"role":"user","content":"hello there"}]}`
			resp := post(t, r.URL, "/v1/messages", []byte(body), nil)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			var m struct {
				ID, Type, Role, Model, StopReason string `json:",omitempty"`
				Content                           []struct{ Type, Text string }
				Usage                             struct{ InputTokens, OutputTokens int }
			}
			var raw map[string]any
			json.Unmarshal(b, &raw)
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(raw["id"].(string), "msg_") || raw["type"] != "message" || raw["role"] != "assistant" ||
				raw["model"] != "claude-3-5-haiku-latest" || raw["stop_reason"] != "end_turn" {
				t.Fatalf("message %s", b)
			}
			if len(m.Content) != 1 || m.Content[0].Type != "text" || !strings.Contains(m.Content[0].Text, "hello there") {
				t.Fatalf("content %s", b)
			}
			if r.Up.LastRequest().Header.Get("Accept") != "application/json" {
				t.Fatal("unary request should ask for JSON")
			}
			var up map[string]any
			json.Unmarshal(r.Up.LastRequest().Body, &up)
			if up["model"] != "gpt-4.1-mini" {
				t.Fatalf("haiku should map to the small model, got %v", up["model"])
			}
		})
	}
}

// TestCountTokens counts a real Claude Code count_tokens body.
func TestCountTokens(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, nil)
	body := fixture(t, "cc-2.1.332-count-tokens-with-tools.json")
	resp := post(t, r.URL, "/v1/messages/count_tokens?beta=true", body, nil)
	defer resp.Body.Close()
	var out struct {
		InputTokens int `json:"input_tokens"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d err %v", resp.StatusCode, err)
	}
	if resp.Header.Get("Server-Timing") == "" || resp.Header.Get("x-ccproxy-overhead-us") == "" || resp.Header.Get("x-request-id") == "" {
		t.Fatalf("per-response figures missing: %v", resp.Header)
	}
	// Tool definitions dominate this body: a text-only count would be tiny.
	if out.InputTokens < len(body)/6 || out.InputTokens > len(body)/2 {
		t.Fatalf("input_tokens %d implausible for %d bytes", out.InputTokens, len(body))
	}
	if r.Up.Stats().Requests != 0 {
		t.Fatal("count_tokens must not call the upstream")
	}
}

// TestEdgeErrors: every error the edge makes has Anthropic's shape and a
// fitting status.
func TestEdgeErrors(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, func(c *Config, _ *engine.Config) { c.MaxRequestBytes = 1 << 20 })
	big := `{"model":"x","max_tokens":1,"messages":[{"role":"user","content":"` + strings.Repeat("a", 2<<20) + `"}]}`
	cases := []struct {
		name, method, path, body string
		status                   int
		typ                      string
	}{
		{"unknown route", "GET", "/v2/nothing", "", 404, "not_found_error"},
		{"wrong method", "GET", "/v1/messages", "", 405, "invalid_request_error"},
		{"not json", "POST", "/v1/messages", "{nope", 400, "invalid_request_error"},
		{"missing model", "POST", "/v1/messages", `{"max_tokens":1,"messages":[]}`, 400, "invalid_request_error"},
		{"missing messages", "POST", "/v1/messages", `{"model":"m","max_tokens":1}`, 400, "invalid_request_error"},
		{"missing max_tokens", "POST", "/v1/messages", `{"model":"m","messages":[{"role":"user","content":"x"}]}`, 400, "invalid_request_error"},
		{"wrong type", "POST", "/v1/messages", `{"model":3,"max_tokens":1,"messages":[]}`, 400, "invalid_request_error"},
		{"too large", "POST", "/v1/messages", big, 413, "request_too_large"},
		{"count_tokens not json", "POST", "/v1/messages/count_tokens", "[1,", 400, "invalid_request_error"},
		{"passthrough not json", "POST", "/v1/chat/completions", "{", 400, "invalid_request_error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, r.URL+c.path, strings.NewReader(c.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d", resp.StatusCode, c.status)
			}
			if typ, msg := errorBody(t, resp); typ != c.typ {
				t.Errorf("type %q (%s), want %q", typ, msg, c.typ)
			}
		})
	}
	if r.Up.Stats().Requests != 0 {
		t.Fatal("bad requests must not reach the upstream")
	}
}

// TestValidationNamesField: a 400 names the offending field.
func TestValidationNamesField(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, nil)
	resp := post(t, r.URL, "/v1/messages", []byte(`{"model":"m","messages":[{"role":"user","content":"x"}]}`), nil)
	if _, msg := errorBody(t, resp); !strings.Contains(msg, "max_tokens") {
		t.Fatalf("message %q does not name max_tokens", msg)
	}
}

// TestHealth needs no key and reports the engine.
func TestHealth(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, func(c *Config, _ *engine.Config) { c.APIKeys = []string{"k1"} })
	resp, err := http.Get(r.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"engine":"nethttp"`)) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

// TestPingWhileSilent: pings flow while the upstream thinks.
func TestPingWhileSilent(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{FirstChunkDelay: 400 * time.Millisecond, Chunks: 2},
		func(c *Config, _ *engine.Config) { c.PingInterval = 20 * time.Millisecond })
	body := `{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
	resp := post(t, r.URL, "/v1/messages", []byte(body), nil)
	defer resp.Body.Close()
	evs := readEvents(t, resp.Body)
	checkGrammar(t, evs)
	if evs[1].Name != "ping" {
		t.Fatalf("want a ping right after message_start while the upstream is silent: %v", names(evs))
	}
}

// TestStreamConnectionReuse: a finished stream leaves its upstream
// connection in the pool (the body is read to its end), with every engine.
func TestStreamConnectionReuse(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRig(t, eng, fakeupstream.Options{}, nil)
			for i := 0; i < 4; i++ {
				resp := post(t, r.URL, "/v1/messages", []byte(`{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`), nil)
				checkGrammar(t, readEvents(t, resp.Body))
				resp.Body.Close()
			}
			if got := r.Up.Stats().ConnsAccepted; got != 1 {
				t.Fatalf("4 sequential streams used %d upstream connections, want 1", got)
			}
		})
	}
}

// TestMessageStartWhileUpstreamSilent: message_start may wait a moment to
// leave with the first upstream event, but never for the event itself: an
// upstream that sends its head and then thinks for a long time still lets
// the client see message_start at once.
func TestMessageStartWhileUpstreamSilent(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRig(t, eng, fakeupstream.Options{FirstChunkDelay: time.Minute, Chunks: 1}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL+"/v1/messages", strings.NewReader(streamBody))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			if err != nil || line != "event: message_start\n" {
				t.Fatalf("first line %q, %v: want message_start before the upstream's first event", line, err)
			}
		})
	}
}
