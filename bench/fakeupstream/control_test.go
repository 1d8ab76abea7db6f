package fakeupstream

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// controlDo sends a control request with c and decodes a 200 answer into
// out (when not nil); it returns the status.
func controlDo(t *testing.T, c *http.Client, method, url, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := readAll(t, resp.Body)
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, b)
		}
	}
	return resp.StatusCode
}

// contentChunks counts the events of a stream that carry content.
func contentChunks(t *testing.T, r io.Reader) int {
	t.Helper()
	events, err := newSSE(r).all()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range events {
		if gjson.Get(ev, "choices.0.delta.content").Str != "" {
			n++
		}
	}
	return n
}

// TestControlEndpoints drives a control-enabled server over each protocol
// with its own client: options set through the control surface show in the
// next stream, the stats count the clients' connections and requests but
// not the control ones, and the last request is the client's.
func TestControlEndpoints(t *testing.T) {
	for _, p := range protocols {
		t.Run(string(p.proto), func(t *testing.T) {
			s, c := start(t, Options{Protocol: p.proto, Control: true, TextOnly: true})
			ctl := s.Client()
			defer ctl.CloseIdleConnections()
			base := s.URL + ControlPrefix

			var co ControlOptions
			if st := controlDo(t, ctl, http.MethodGet, base+"options", "", &co); st != http.StatusOK || co.Chunks != DefaultChunks || !co.TextOnly {
				t.Fatalf("GET options: %d %+v", st, co)
			}
			co.Chunks, co.HeaderDelay = 3, time.Millisecond
			b, _ := json.Marshal(co)
			var back ControlOptions
			if st := controlDo(t, ctl, http.MethodPost, base+"options", string(b), &back); st != http.StatusOK || back != co {
				t.Fatalf("POST options: %d %+v, want %+v", st, back, co)
			}
			if o := s.Options(); o.Chunks != 3 || o.HeaderDelay != time.Millisecond || !o.Control || o.Protocol != p.proto {
				t.Fatalf("server options after POST: %+v", o)
			}

			body := chatBody(true, true, `,"tools":[{"type":"function","function":{"name":"Bash","parameters":{}}}]`)
			resp := post(t, nil, s, c, body)
			if n := contentChunks(t, resp.Body); n != 3 {
				t.Fatalf("%d content chunks after setting Chunks=3 through the control surface", n)
			}
			resp.Body.Close()

			var st Stats
			if code := controlDo(t, ctl, http.MethodGet, base+"stats", "", &st); code != http.StatusOK ||
				st.ConnsAccepted != 1 || st.Requests != 1 || st.Streams != 1 || st.ByProto[p.want] != 1 {
				t.Fatalf("stats %d %+v: want the client's one connection and one %s request, no control traffic", code, st, p.want)
			}
			var rec Recorded
			if code := controlDo(t, ctl, http.MethodGet, base+"last-request", "", &rec); code != http.StatusOK ||
				rec.Method != http.MethodPost || rec.Path != "/v1/chat/completions" || string(rec.Body) != body ||
				rec.Header.Get("Authorization") != "Bearer sk-test" || rec.Proto != p.want {
				t.Fatalf("last-request %d: %+v", code, rec)
			}

			// A new client connection is counted; the control client's
			// further requests (and a fresh control connection) are not.
			c2 := s.Client()
			resp = post(t, nil, s, c2, chatBody(false, false, ""))
			readAll(t, resp.Body)
			resp.Body.Close()
			c2.CloseIdleConnections()
			ctl2 := s.Client()
			defer ctl2.CloseIdleConnections()
			if code := controlDo(t, ctl2, http.MethodGet, base+"stats", "", &st); code != http.StatusOK || st.ConnsAccepted != 2 || st.Requests != 2 {
				t.Fatalf("stats after a second client: %d %+v; want 2 connections, 2 requests", code, st)
			}

			// Refusals leave the options as they were.
			for _, bad := range []string{`{"chunks":5,"compression":"lz4"}`, `{"chunks":5,"protocol":"h2c"}`, `not json`} {
				if code := controlDo(t, ctl, http.MethodPost, base+"options", bad, nil); code != http.StatusBadRequest {
					t.Errorf("POST options %s: %d, want 400", bad, code)
				}
			}
			if o := s.Options(); o.Chunks != 3 || o.Compression != "" {
				t.Fatalf("a refused POST changed the options: %+v", o)
			}
			if code := controlDo(t, ctl, http.MethodGet, base+"nope", "", nil); code != http.StatusNotFound {
				t.Errorf("unknown control path: %d", code)
			}
			if code := controlDo(t, ctl, http.MethodDelete, base+"stats", "", nil); code != http.StatusMethodNotAllowed {
				t.Errorf("DELETE stats: %d", code)
			}
		})
	}
}

// TestControlNoRequestYet: last-request before any client request is 404.
func TestControlNoRequestYet(t *testing.T) {
	s, c := start(t, Options{Control: true})
	if code := controlDo(t, c, http.MethodGet, s.URL+ControlPrefix+"last-request", "", nil); code != http.StatusNotFound {
		t.Fatalf("last-request with none: %d, want 404", code)
	}
}

// TestControlOff: without Options.Control the control paths are ordinary
// unknown paths: 404 in OpenAI's error shape, counted and recorded.
func TestControlOff(t *testing.T) {
	s, c := start(t, Options{})
	for _, path := range []string{"stats", "options", "last-request"} {
		resp, err := c.Post(s.URL+ControlPrefix+path, "application/json", bytes.NewReader([]byte(`{"chunks":1}`)))
		if err != nil {
			t.Fatal(err)
		}
		b := readAll(t, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || gjson.GetBytes(b, "error.type").Str != "invalid_request_error" {
			t.Fatalf("%s without Control: %d %s", path, resp.StatusCode, b)
		}
	}
	if st := s.Stats(); st.Requests != 3 || s.Options().Chunks != DefaultChunks || s.LastRequest().Path != ControlPrefix+"last-request" {
		t.Fatalf("without Control the control paths must be plain requests: %+v, options %+v", st, s.Options())
	}
}
