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
