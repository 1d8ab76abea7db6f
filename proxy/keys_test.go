package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ccproxy/ccproxy/engine"
)

// Upstream keys of the scripted upstream's tests (no sk- prefix, so only
// the scrubber, not redact's patterns, keeps them out of text).
const (
	keyA = "ka_0000aaaa1111bbbb"
	keyB = "kb_2222cccc3333dddd"
	keyC = "kc_4444eeee5555ffff"
)

// upCall is one request a keyedUpstream received.
type upCall struct {
	Key, Model, Path string // Key: the Authorization token
	Body             []byte
}

// answer is what a keyedUpstream sends: Status 0 means a successful
// answer (a stream or a chat.completion, as asked) saying Text.
type answer struct {
	Status int
	Header map[string]string
	Body   string
	Text   string
}

// keyedUpstream records every request (its key and model) and answers
// as script says.
type keyedUpstream struct {
	URL    string
	mu     sync.Mutex
	calls  []upCall
	script func(c upCall) answer
}

func newKeyedUpstream(t *testing.T, script func(c upCall) answer) *keyedUpstream {
	t.Helper()
	s := &keyedUpstream{script: script}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c := upCall{Key: strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "),
			Model: gjson.GetBytes(body, "model").Str, Path: r.URL.Path, Body: body}
		s.mu.Lock()
		s.calls = append(s.calls, c)
		s.mu.Unlock()
		a := s.script(c)
		for k, v := range a.Header {
			w.Header().Set(k, v)
		}
		if a.Status != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(a.Status)
			io.WriteString(w, a.Body)
			return
		}
		if gjson.GetBytes(body, "stream").Bool() {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, sseBody(
				chunkJSON(`{"role":"assistant","content":`+quote(a.Text)+`}`, "null"),
				chunkJSON(`{}`, `"stop"`), "[DONE]"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"`+c.Model+
			`","choices":[{"index":0,"message":{"role":"assistant","content":`+quote(a.Text)+`},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	b.WriteString(strings.NewReplacer(`"`, `\"`, `\`, `\\`).Replace(s))
	b.WriteByte('"')
	return b.String()
}

// taken returns the calls received so far and forgets them.
func (s *keyedUpstream) taken() []upCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = nil
	return c
}

func keysOf(calls []upCall) []string {
	var k []string
	for _, c := range calls {
		k = append(k, c.Key)
	}
	return k
}

// withKeys configures a rig with several upstream keys.
func withKeys(keys ...string) func(*Config, *engine.Config) {
	return func(c *Config, _ *engine.Config) {
		c.UpstreamKey = ""
		c.UpstreamKeys = keys
	}
}

// route is a request of the tests: a translated stream, a translated
// unary request, and an OpenAI passthrough request.
type route struct{ name, path, body string }

var keyRoutes = []route{
	{"stream", "/v1/messages", streamBody},
	{"unary", "/v1/messages", unaryBody},
	{"passthrough", "/v1/chat/completions", `{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`},
}

// call sends one request and returns its status and body.
func call(t *testing.T, r *rig, rt route) (int, http.Header, string) {
	t.Helper()
	resp := post(t, r.URL, rt.path, []byte(rt.body), nil)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s: %v", rt.name, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// TestKeysRoundRobin: requests spread evenly over the keys, on every
// route. Before, OPENAI_API_KEY was one key.
func TestKeysRoundRobin(t *testing.T) {
	up := newKeyedUpstream(t, func(upCall) answer { return answer{Text: "ok"} })
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRigFor(t, eng, up.URL, withKeys(keyA, keyB, keyC), nil)
			for _, rt := range keyRoutes {
				for range 6 {
					if st, _, b := call(t, r, rt); st != http.StatusOK {
						t.Fatalf("%s: status %d: %s", rt.name, st, b)
					}
				}
				count := map[string]int{}
				for _, k := range keysOf(up.taken()) {
					count[k]++
				}
				if count[keyA] != 2 || count[keyB] != 2 || count[keyC] != 2 || len(count) != 3 {
					t.Fatalf("%s: requests per key %v, want 2 each of 3 keys", rt.name, count)
				}
			}
			// The request log line names the key by its place.
			deadline := time.Now().Add(5 * time.Second) // lines follow the answers
			for _, k := range []string{`"key":1`, `"key":2`, `"key":3`} {
				for !strings.Contains(r.logs(), k) {
					if time.Now().After(deadline) {
						t.Fatalf("no request log line with %s:\n%s", k, r.logs())
					}
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
}

// TestKey401Rotates: a key the upstream refuses (401) is benched and the
// same request succeeds at once with the next key; later requests skip the
// benched key. The log names the key by its index, never the key.
func TestKey401Rotates(t *testing.T) {
	up := newKeyedUpstream(t, func(c upCall) answer {
		if c.Key == keyA {
			return answer{Status: http.StatusUnauthorized, Body: `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`}
		}
		return answer{Text: "ok"}
	})
	for _, eng := range engines() {
		for _, rt := range keyRoutes {
			t.Run(eng+"/"+rt.name, func(t *testing.T) {
				r := newRigFor(t, eng, up.URL, withKeys(keyA, keyB), nil)
				for i := range 4 {
					if st, _, b := call(t, r, rt); st != http.StatusOK {
						t.Fatalf("request %d: status %d: %s", i, st, b)
					}
				}
				keys := keysOf(up.taken())
				if strings.Join(keys, " ") != strings.Join([]string{keyA, keyB, keyB, keyB, keyB}, " ") {
					t.Fatalf("keys sent: %q; want key A once, then only key B", keys)
				}
				logs := r.logs()
				if !strings.Contains(logs, `"key":1`) || !strings.Contains(logs, "benched") {
					t.Fatalf("no log line names the benched key by index:\n%s", logs)
				}
				for _, k := range []string{keyA, keyB} {
					if strings.Contains(logs, k) {
						t.Fatalf("key in the log:\n%s", logs)
					}
				}
				if n := r.Metrics.Snapshot().Retries.ByCause[causeKeyRotated]; n != 1 {
					t.Fatalf("key_rotated retries %d, want 1", n)
				}
			})
		}
	}
}

// TestKey429MovesOn: a key rate limited with a Retry-After longer than
// RETRY_AFTER_MAX (which used to go straight back to the client) is
// benched for it, and the request goes to the next key at once.
func TestKey429MovesOn(t *testing.T) {
	up := newKeyedUpstream(t, func(c upCall) answer {
		if c.Key == keyA {
			return answer{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "60"},
				Body: `{"error":{"message":"Rate limit reached","type":"tokens","code":"rate_limit_exceeded"}}`}
		}
		return answer{Text: "ok"}
	})
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRigFor(t, eng, up.URL, withKeys(keyA, keyB), nil)
			for _, rt := range keyRoutes {
				for i := range 3 {
					if st, _, b := call(t, r, rt); st != http.StatusOK {
						t.Fatalf("%s request %d: status %d: %s", rt.name, i, st, b)
					}
				}
			}
			keys := keysOf(up.taken())
			if len(keys) != 10 || keys[0] != keyA || strings.Count(strings.Join(keys, " "), keyA) != 1 {
				t.Fatalf("keys sent: %q; want key A once (then benched), key B for the rest", keys)
			}
		})
	}
}

// TestAllKeys429: when every key is rate limited the request gets today's
// answer (a Retry-After over RETRY_AFTER_MAX goes back to the client),
// after each key was tried once; with every key benched, later requests
// still go upstream (to the key whose bench ends first).
func TestAllKeys429(t *testing.T) {
	up := newKeyedUpstream(t, func(c upCall) answer {
		ra := "60"
		if c.Key == keyB {
			ra = "30"
		}
		return answer{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": ra},
			Body: `{"error":{"message":"Rate limit reached","type":"tokens","code":"rate_limit_exceeded"}}`}
	})
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRigFor(t, eng, up.URL, withKeys(keyA, keyB), nil)
			st, hd, b := call(t, r, keyRoutes[0])
			if st != http.StatusTooManyRequests || hd.Get("Retry-After") != "30" || !strings.Contains(b, errRateLimit) {
				t.Fatalf("status %d Retry-After %q: %s; want 429 with the last Retry-After", st, hd.Get("Retry-After"), b)
			}
			if keys := keysOf(up.taken()); len(keys) != 2 || keys[0] != keyA || keys[1] != keyB {
				t.Fatalf("keys sent: %q; want A then B", keys)
			}
			st, _, _ = call(t, r, keyRoutes[1])
			if keys := keysOf(up.taken()); st != http.StatusTooManyRequests || len(keys) != 1 || keys[0] != keyB {
				t.Fatalf("all benched: status %d, keys sent %q; want one try with B (its bench ends first)", st, keys)
			}
		})
	}
}

// TestKeyRingPick checks the choice of key without a network: round
// robin, skipping benched and tried keys, and the earliest bench end when
// every key is benched.
func TestKeyRingPick(t *testing.T) {
	r, err := newKeyRing([]string{keyA, keyB, keyC})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for range 4 {
		got = append(got, r.pick(0))
	}
	if want := []int{0, 1, 2, 0}; !slices.Equal(got, want) {
		t.Fatalf("round robin %v, want %v", got, want)
	}
	r.keys[1].benchUntil.Store(1 << 62)
	if k := r.pick(1 << 0); k != 2 {
		t.Fatalf("key 1 tried, key 2 benched: picked %d, want 2", k)
	}
	r.keys[0].benchUntil.Store(1<<62 + 2)
	r.keys[2].benchUntil.Store(1<<62 + 1)
	for range 3 {
		if k := r.pick(0); k != 1 {
			t.Fatalf("all benched: picked %d, want 1 (its bench ends first)", k)
		}
	}
	if k := r.pick(1 << 1); k != 2 {
		t.Fatalf("all benched, key 1 tried: picked %d, want 2 (the earliest untried)", k)
	}
	if _, err := newKeyRing([]string{keyA, ""}); err == nil || strings.Contains(err.Error(), keyA) {
		t.Fatalf("empty key: %v", err)
	}
}
