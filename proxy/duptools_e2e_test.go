package proxy

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
)

// TestDuplicateToolNamesRefused: a Claude Code turn whose tools name one
// tool twice (here its first tool, defined again in front of it) is
// answered 400 in Anthropic's error envelope, with Anthropic's wording and
// the name and indexes of the duplicate, and the upstream gets no request.
// The same turn without the duplicate then goes upstream, so the upstream
// was there to be called.
func TestDuplicateToolNamesRefused(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, nil)
	body := fixture(t, "cc-2.1.332-print-first-turn.json")
	first := gjson.GetBytes(body, "tools.0")
	name := first.Get("name").Str
	if name == "" || !bytes.Contains(body, []byte(`"tools": [`)) {
		t.Fatalf("fixture has no tools list to extend: first tool %s", first.Raw)
	}
	dup := bytes.Replace(body, []byte(`"tools": [`), []byte(`"tools": [`+first.Raw+`,`), 1)

	resp := post(t, r.URL, "/v1/messages", dup, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	typ, msg := errorBody(t, resp)
	want := `tools: Tool names must be unique. tools.0 and tools.1 are both named "` + name + `".`
	if typ != errInvalidRequest || msg != want {
		t.Fatalf("error %s: %q\nwant %s: %q", typ, msg, errInvalidRequest, want)
	}
	if n := r.Up.Stats().Requests; n != 0 {
		t.Fatalf("the upstream got %d requests", n)
	}

	wantMessageStop(t, post(t, r.URL, "/v1/messages", body, nil), "the turn without the duplicate")
	if n := r.Up.Stats().Requests; n != 1 {
		t.Fatalf("the upstream got %d requests, want 1", n)
	}
}

// TestCountTokensDuplicateToolNames: count_tokens refuses what
// /v1/messages refuses, a body naming one tool twice (400 with Anthropic's
// wording, the name and both indexes), and counts what it sends: a dropped
// server tool beside a custom tool of its name is no duplicate. Before,
// count_tokens counted the duplicate that the turn itself was refused for.
func TestCountTokensDuplicateToolNames(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, nil)
	tool := func(name string) string { return `{"name":"` + name + `","input_schema":{"type":"object"}}` }
	body := func(tools string) []byte {
		return []byte(`{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}],"tools":[` + tools + `]}`)
	}
	for _, tc := range []struct{ name, tools, at, dup string }{
		{"custom", tool("Read") + "," + tool("Bash") + "," + tool("Read"), "tools.0 and tools.2", "Read"},
		{"escaped", tool("Read") + "," + tool(`Re\u0061d`), "tools.0 and tools.1", "Read"},
		{"client tool and custom", `{"type":"bash_20250124","name":"bash"},` + tool("bash"), "tools.0 and tools.1", "bash"},
	} {
		for _, path := range []string{"/v1/messages", "/v1/messages/count_tokens"} {
			resp := post(t, r.URL, path, body(tc.tools), nil)
			if resp.StatusCode != http.StatusBadRequest {
				resp.Body.Close()
				t.Fatalf("%s %s: status %d, want 400", tc.name, path, resp.StatusCode)
			}
			typ, msg := errorBody(t, resp)
			want := `tools: Tool names must be unique. ` + tc.at + ` are both named "` + tc.dup + `".`
			if typ != errInvalidRequest || !strings.HasSuffix(msg, want) {
				t.Fatalf("%s %s: error %s: %q\nwant %s ending %q", tc.name, path, typ, msg, errInvalidRequest, want)
			}
		}
	}
	resp := post(t, r.URL, "/v1/messages/count_tokens", body(`{"type":"web_search_20250305","name":"Read"},`+tool("Read")), nil)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, msg := errorBody(t, resp)
		t.Fatalf("a server tool beside a custom tool of its name: status %d: %s", resp.StatusCode, msg)
	}
	if n := r.Up.Stats().Requests; n != 0 {
		t.Fatalf("the upstream got %d requests", n)
	}
}
