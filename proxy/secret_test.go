package proxy

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ccproxy/ccproxy/engine"
)

// echoKey is an upstream key redact's patterns do not recognise (no sk-
// prefix), with a '/' and a '+' that JSON encoders may escape.
const echoKey = "gw_9f8e7d6c/5b4a+3210fedcba98"

// echoKey2 is a second upstream key like echoKey.
const echoKey2 = "gw_1a2b3c4d/e5f6+a7b8c9d0e1f2a3"

// leakForms are the ways the keys could reach a client or a log line:
// as is, and as JSON encoders write them.
var leakForms = []string{echoKey, `gw_9f8e7d6c\/5b4a+3210fedcba98`, `gw_9f8e7d6c/5b4a\u002b3210fedcba98`,
	`gw_9f8e7d6c\/5b4a\u002b3210fedcba98`, "9f8e7d6c", "3210fedcba98",
	echoKey2, `gw_1a2b3c4d\/e5f6+a7b8c9d0e1f2a3`, `gw_1a2b3c4d/e5f6\u002ba7b8c9d0e1f2a3`,
	`gw_1a2b3c4d\/e5f6\u002ba7b8c9d0e1f2a3`, "1a2b3c4d", "a7b8c9d0e1f2a3"}

// echoUpstream answers every request with an error that echoes the
// Authorization header it got, in the shape named by the first element of
// the path (the rig's upstream URL is up.URL+"/"+shape).
func echoUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		auth := r.Header.Get("Authorization")
		key := strings.TrimPrefix(auth, "Bearer ")
		// JSON-escaped as PHP writes it ('/' as "\/") and '+' as \u002b.
		esc := strings.NewReplacer("/", `\/`, "+", `\u002b`).Replace(key)
		shape, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch shape {
		case "json401":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"message":"invalid api key: `+key+` (escaped: `+esc+`)","type":"invalid_request_error","code":"invalid_api_key"}}`)
		case "text500":
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "upstream gateway rejected header Authorization: "+auth+"\n")
		case "gzip400":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(http.StatusBadRequest)
			zw := gzip.NewWriter(w)
			io.WriteString(zw, `{"error":{"message":"bad request from key `+esc+`","type":"invalid_request_error","detail":"{\"authorization\":\"Bearer `+strings.ReplaceAll(esc, `\`, `\\`)+`\"}"}}`)
			zw.Close()
		case "streamerr":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, sseBody(
				chunkJSON(`{"role":"assistant","content":"Let me"}`, "null"),
				`{"error":{"message":"key `+esc+` is over its quota; header was `+auth+`","type":"server_error"}}`))
		case "streambare":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, sseBody(`{"object":"error","message":"unknown key `+key+`","type":"AuthError","code":401}`))
		case "unary200":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"error":{"message":"no such key `+esc+`","type":"invalid_request_error"}}`)
		default:
			http.Error(w, "unknown shape "+shape, http.StatusTeapot)
		}
	}))
	t.Cleanup(up.Close)
	return up
}

// assertNoKey fails when any form of the key is in what the client got
// (status line, headers, body) or in the log.
func assertNoKey(t *testing.T, what string, resp *http.Response, body []byte, logs string) {
	t.Helper()
	var hd bytes.Buffer
	resp.Header.Write(&hd)
	for _, f := range leakForms {
		if strings.Contains(resp.Status, f) || strings.Contains(hd.String(), f) {
			t.Errorf("%s: key form %q in the response head:\n%s %s", what, f, resp.Status, hd.String())
		}
		if bytes.Contains(body, []byte(f)) {
			t.Errorf("%s: key form %q in the body: %s", what, f, body)
		}
		if strings.Contains(logs, f) {
			t.Errorf("%s: key form %q in the log:\n%s", what, f, logs)
		}
	}
	if !bytes.Contains(body, []byte(secretMask)) {
		t.Errorf("%s: body carries no %s, so the echo did not arrive as expected: %s", what, secretMask, body)
	}
}

// TestUpstreamKeyNeverLeaks: an upstream that echoes ccproxy's key (or its
// whole Authorization header) in its error text, JSON-escaped or not,
// compressed or not, as a response or inside a stream, never gets the key
// to the client or into the log, at trace level included. Before, each
// case relayed the key. With several keys (each case sent twice, so both
// keys are echoed; a 401 also rotates to the other key), none leaks:
// before, only one key could be configured.
func TestUpstreamKeyNeverLeaks(t *testing.T) {
	up := echoUpstream(t)
	cases := []leakCase{
		{"json401", "/v1/messages", unaryBody, http.StatusBadGateway, false},
		{"json401", "/v1/messages", streamBody, http.StatusBadGateway, false},
		{"text500", "/v1/messages", unaryBody, http.StatusInternalServerError, false},
		{"json401", "/v1/chat/completions", `{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`, http.StatusUnauthorized, false},
		{"text500", "/v1/chat/completions", `{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`, http.StatusInternalServerError, false},
		{"gzip400", "/v1/chat/completions", `{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`, http.StatusBadRequest, true},
		{"gzip400", "/v1/messages", unaryBody, http.StatusBadRequest, false},
		{"streamerr", "/v1/messages", streamBody, http.StatusOK, false},
		{"streambare", "/v1/messages", streamBody, http.StatusOK, false},
		{"unary200", "/v1/messages", unaryBody, http.StatusBadRequest, false},
		{"unary200", "/v1/messages", streamBody, http.StatusOK, false},
	}
	keySets := [][]string{{echoKey}, {echoKey, echoKey2}}
	for _, eng := range engines() {
		for _, keys := range keySets {
			t.Run(eng+"/keys="+strconv.Itoa(len(keys)), func(t *testing.T) {
				for _, c := range cases {
					r := newRigFor(t, eng, up.URL+"/"+c.shape, func(cfg *Config, _ *engine.Config) {
						cfg.UpstreamKey = ""
						cfg.UpstreamKeys = keys
						cfg.MaxRetries = -1
						cfg.Logger = cfg.Logger.Level(zerolog.TraceLevel)
					}, nil)
					for range keys {
						sendLeakCase(t, r, c)
					}
				}
			})
		}
	}
}

// leakCase is one request of TestUpstreamKeyNeverLeaks.
type leakCase struct {
	shape, path, body string
	status            int // what the client must see
	gzip              bool
}

// sendLeakCase sends c and checks that no key form reached the client or
// the log.
func sendLeakCase(t *testing.T, r *rig, c leakCase) {
	t.Helper()
	what := c.shape + " " + c.path + " " + c.body[:min(len(c.body), 60)]
	req, err := http.NewRequest(http.MethodPost, r.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.gzip {
		// Asked for by hand, so the client sees the body as sent.
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if resp.StatusCode != c.status {
		t.Fatalf("%s: status %d, want %d: %s", what, resp.StatusCode, c.status, body)
	}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	assertNoKey(t, what, resp, body, r.logs())
}
