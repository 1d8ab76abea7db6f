package proxy

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/engine"
)

// fuzzRoutes are the POST routes FuzzMessagesEdge drives, by the fuzzer's
// route byte modulo their count.
var fuzzRoutes = [...]string{"/v1/messages", "/v1/messages/count_tokens", "/v1/chat/completions"}

// wrongTypes replaces each top-level field of a valid request, in turn,
// with values of the wrong JSON type.
var wrongTypes = []string{`1`, `"x"`, `null`, `true`, `{}`, `[]`, `[1]`, `{"a":1}`, `-1e999`}

// fuzzSeeds returns the seed bodies: every Claude Code fixture (streamed
// and not), and small malformed variants of a minimal request.
func fuzzSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	files, _ := filepath.Glob("../testdata/cc-*.json")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
		seeds = append(seeds, bytes.Replace(b, []byte(`"stream": true`), []byte(`"stream": false`), 1))
	}
	base := map[string]string{
		"model":          `"claude-sonnet-4-5"`,
		"max_tokens":     `100`,
		"stream":         `true`,
		"messages":       `[{"role":"user","content":[{"type":"text","text":"hi"}]}]`,
		"system":         `[{"type":"text","text":"be brief"}]`,
		"tools":          `[{"name":"Bash","description":"run","input_schema":{"type":"object","properties":{"command":{"type":"string"}}}}]`,
		"tool_choice":    `{"type":"auto"}`,
		"thinking":       `{"type":"enabled","budget_tokens":1024}`,
		"metadata":       `{"user_id":"u"}`,
		"stop_sequences": `["STOP"]`,
		"temperature":    `0.5`,
		"top_p":          `0.9`,
	}
	keys := []string{"model", "max_tokens", "stream", "messages", "system", "tools", "tool_choice", "thinking",
		"metadata", "stop_sequences", "temperature", "top_p"}
	build := func(over map[string]string) []byte {
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range keys {
			v, ok := over[k]
			if !ok {
				v = base[k]
			}
			if v == "" {
				continue
			}
			if i > 0 && b.Len() > 1 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + k + `":` + v)
		}
		b.WriteByte('}')
		return []byte(b.String())
	}
	seeds = append(seeds, build(nil))
	for _, k := range keys {
		seeds = append(seeds, build(map[string]string{k: ""})) // missing
		for _, w := range wrongTypes {
			seeds = append(seeds, build(map[string]string{k: w}))
		}
	}
	// Wrong types inside messages and content blocks, unknown block types
	// and fields.
	for _, m := range []string{
		`[{"role":1,"content":"hi"}]`,
		`[{"role":"robot","content":"hi"}]`,
		`[{"role":"user"}]`,
		`[{"role":"user","content":5}]`,
		`[{"role":"user","content":[5]}]`,
		`[{"role":"user","content":[{"type":5}]}]`,
		`[{"role":"user","content":[{"type":"text"}]}]`,
		`[{"role":"user","content":[{"type":"text","text":5}]}]`,
		`[{"role":"user","content":[{"type":"hologram","data":"?"}]}]`,
		`[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"!!"}}]}]`,
		`[{"role":"user","content":[{"type":"image","source":5}]}]`,
		`[{"role":"user","content":[{"type":"document","source":{"type":"url","url":"http://127.0.0.1/x.pdf"}}]}]`,
		`[{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Bash","input":"notanobject"}]}]`,
		`[{"role":"assistant","content":[{"type":"tool_use","id":5,"name":null,"input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"image"}]}]}]`,
		`[{"role":"user","content":[{"type":"tool_result","tool_use_id":"nope","content":{"x":1},"is_error":"yes"}]}]`,
		`[{"role":"assistant","content":[{"type":"thinking","thinking":5,"signature":[]},{"type":"redacted_thinking","data":1}]}]`,
		`[{"role":"user","content":"hi","unknown_field":{"deep":[1,2,3]}}]`,
		`[]`,
		`[{"role":"user","content":"` + strings.Repeat("\\u00e9\\ud83d\\ude00", 2000) + `"}]`,
		`[{"role":"user","content":"\ud800"}]`,
	} {
		seeds = append(seeds, build(map[string]string{"messages": m}))
	}
	seeds = append(seeds,
		[]byte(``), []byte(`null`), []byte(`[]`), []byte(`"x"`), []byte(`{`), []byte(`{"model":`),
		[]byte(`{"model":"claude-sonnet-4-5","model":5,"max_tokens":1,"messages":[]}`),
		[]byte("{\"model\":\"claude\x00\",\"max_tokens\":1,\"messages\":[]}"),
		[]byte(strings.Repeat("[", 100_000)),
		[]byte(`{"model":"claude-sonnet-4-5","max_tokens":1,"messages":`+strings.Repeat("[", 100_000)),
		[]byte(`{"a":`+strings.Repeat(`{"a":`, 50_000)+`1`+strings.Repeat("}", 50_001)),
		build(map[string]string{"model": `"` + strings.Repeat("m", 1<<20) + `"`}),
		build(map[string]string{"metadata": `{"user_id":"` + strings.Repeat("u", 1<<20) + `"}`}),
		build(map[string]string{"max_tokens": `99999999999999999999999`}),
		build(map[string]string{"max_tokens": `0`}),
		build(map[string]string{"tools": `[` + strings.Repeat(`{"name":"t","input_schema":{"type":"object"}},`, 500) + `{"name":"t"}]`}),
	)
	return seeds
}

// FuzzMessagesEdge posts arbitrary bodies to the Handler's POST routes with
// the fake upstream behind it. Invariants: no panic; never a 500 from the
// edge (the upstream here never fails); every non-2xx answer of the
// Anthropic routes is Anthropic's error envelope; a 2xx stream follows
// the event grammar; a 2xx unary answer is a message; count_tokens
// answers a count.
func FuzzMessagesEdge(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		for route := range fuzzRoutes {
			f.Add(uint8(route), s)
		}
	}
	r := newLeakRig(f, "nethttp", fakeupstream.Options{}, func(c *Config, _ *engine.Config) {
		c.MaxRetries = -1
		c.BreakerThreshold = -1
		c.DownstreamWriteTimeout = 5 * time.Second
	})
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		path := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		r.H.ServeHTTP(rec, req)
		checkEdgeAnswer(t, path, rec)
	})
}

// checkEdgeAnswer asserts the invariants of FuzzMessagesEdge on one answer.
func checkEdgeAnswer(t *testing.T, path string, rec *httptest.ResponseRecorder) {
	t.Helper()
	out := rec.Body.Bytes()
	if rec.Code >= 500 {
		t.Fatalf("%s: status %d from the edge: %.500s", path, rec.Code, out)
	}
	if path == "/v1/chat/completions" {
		// Passthrough: the upstream's own (OpenAI-shaped) answers pass
		// as they are; an edge error is Anthropic-shaped.
		if rec.Code >= 300 && !json.Valid(out) {
			t.Fatalf("%s: status %d with a non-JSON body: %.500s", path, rec.Code, out)
		}
		return
	}
	if rec.Code >= 300 {
		var e struct {
			Type  string `json:"type"`
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(out, &e); err != nil || e.Type != "error" || e.Error.Type == "" || e.Error.Message == "" {
			t.Fatalf("%s: status %d, not an Anthropic error envelope: %.500s", path, rec.Code, out)
		}
		return
	}
	switch {
	case strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream"):
		checkGrammar(t, readEvents(t, bytes.NewReader(out)))
	case path == "/v1/messages":
		var m struct {
			Type    string `json:"type"`
			Role    string `json:"role"`
			Content []any  `json:"content"`
		}
		if err := json.Unmarshal(out, &m); err != nil || m.Type != "message" || m.Role != "assistant" {
			t.Fatalf("unary 2xx is not a message: %v: %.500s", err, out)
		}
	default:
		var c struct {
			InputTokens *int `json:"input_tokens"`
		}
		if err := json.Unmarshal(out, &c); err != nil || c.InputTokens == nil || *c.InputTokens < 0 {
			t.Fatalf("count_tokens 2xx: %v: %.500s", err, out)
		}
	}
}

// deepChild, when set, makes TestDeepNestingRejected run its requests to
// that route in this process; the parent runs it in a child process because
// a stack overflow is a fatal error that no recover catches and that would
// take every other test of the package down with it.
var deepChild = flag.String("deepchild", "", "internal: route for the TestDeepNestingRejected child process")

// TestDeepNestingRejected: a body of MaxRequestBytes (32 MiB) of nested
// arrays or objects is refused with a 400, on every POST route, without
// exhausting the stack (a fatal error that would kill ccproxy).
func TestDeepNestingRejected(t *testing.T) {
	if *deepChild != "" {
		deepNestingChild(t, *deepChild)
		return
	}
	if testing.Short() {
		t.Skip("32 MiB bodies in child processes")
	}
	for _, path := range fuzzRoutes {
		t.Run(path, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestDeepNestingRejected$", "-test.v", "-test.count=1",
				"-deepchild="+path)
			out, err := cmd.CombinedOutput()
			if err == nil {
				return
			}
			// Name what was running and why it died, not 1 GB of stack.
			var keep []string
			for _, line := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(line, "=== RUN") || strings.HasPrefix(line, "fatal error") ||
					strings.HasPrefix(line, "runtime: goroutine stack exceeds") || strings.Contains(line, "_test.go:") ||
					strings.HasPrefix(line, "--- FAIL") {
					keep = append(keep, line)
				}
			}
			if len(keep) > 40 {
				keep = keep[:40]
			}
			t.Fatalf("%s: child process: %v\n%s", path, err, strings.Join(keep, "\n"))
		})
	}
}

func deepNestingChild(t *testing.T, path string) {
	// 1 GB is the runtime's default: use less so a failure costs less
	// memory; bounded-depth parsing needs far less than this.
	debug.SetMaxStack(128 << 20)
	const size = 32 << 20
	deep := func(prefix, unit string) []byte {
		b := make([]byte, 0, size)
		b = append(b, prefix...)
		for len(b)+len(unit) <= size {
			b = append(b, unit...)
		}
		return b
	}
	bodies := []struct {
		name string
		body []byte
	}{
		{"arrays", deep("", "[")},
		{"objects", deep("", `{"a":`)},
		{"arrays in messages", deep(`{"model":"claude-sonnet-4-5","max_tokens":1,"messages":`, "[")},
		{"objects in a tool schema", deep(`{"model":"claude-sonnet-4-5","max_tokens":1,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"t","input_schema":`, `{"a":`)},
	}
	r := newLeakRig(t, "nethttp", fakeupstream.Options{}, nil)
	for _, b := range bodies {
		t.Run(b.name, func(t *testing.T) {
			resp, err := r.Client.Post(r.URL+path, "application/json", bytes.NewReader(b.body))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", resp.StatusCode)
			}
			if typ, msg := errorBody(t, resp); typ != errInvalidRequest {
				t.Fatalf("type %s (%s)", typ, msg)
			}
			if r.Up.Stats().Requests != 0 {
				t.Fatal("a nested body reached the upstream")
			}
		})
	}
}
