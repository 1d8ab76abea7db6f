package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/proxy/toopenai"
)

// longModel is a fallback whose name is longer than the model it stands
// in for, so its body grows when patched.
const longModel = "gpt-4.1-nano-2025-04-14-with-a-much-longer-name"

// withFallbacks configures a rig's model fallbacks.
func withFallbacks(fb map[string][]string) func(*Config, *engine.Config) {
	return func(c *Config, _ *engine.Config) { c.Fallbacks = fb }
}

// modelsOf lists the models of calls.
func modelsOf(calls []upCall) []string {
	var m []string
	for _, c := range calls {
		m = append(m, c.Model)
	}
	return m
}

// answerText reads a /v1/messages answer (stream or not): its text and
// the model it names.
func answerText(t *testing.T, stream bool, body string) (text, model string) {
	t.Helper()
	if !stream {
		return gjson.Get(body, "content.0.text").Str, gjson.Get(body, "model").Str
	}
	evs := readEvents(t, strings.NewReader(body))
	checkGrammar(t, evs)
	for _, ev := range evs {
		switch ev.Name {
		case "message_start":
			model = gjson.Get(ev.Data, "message.model").Str
		case "content_block_delta":
			text += gjson.Get(ev.Data, "delta.text").Str
		case "error":
			t.Fatalf("error event: %s", ev.Data)
		}
	}
	return text, model
}

// TestFallbackOn503: a model that keeps answering 503 (after its retries)
// or 429 is replaced, before any byte reached the client, by its
// fallbacks in order; the body is the same but for its model, and the
// client still sees the model it asked for. Before, the client got 529.
func TestFallbackOn503(t *testing.T) {
	up := newKeyedUpstream(t, func(c upCall) answer {
		switch c.Model {
		case "gpt-4.1":
			return answer{Status: http.StatusServiceUnavailable, Body: `{"error":{"message":"The engine is currently overloaded","type":"server_error"}}`}
		case "gpt-4.1-mini":
			return answer{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "60"},
				Body: `{"error":{"message":"Rate limit reached","type":"tokens"}}`}
		case longModel:
			return answer{Text: "from " + c.Model}
		}
		return answer{Status: http.StatusNotFound, Body: `{"error":{"message":"no such model"}}`}
	})
	fb := map[string][]string{"gpt-4.1": {"gpt-4.1-mini", longModel}}
	for _, eng := range engines() {
		for _, stream := range []bool{true, false} {
			name := eng + "/unary"
			body := unaryBody
			if stream {
				name, body = eng+"/stream", streamBody
			}
			t.Run(name, func(t *testing.T) {
				r := newRigFor(t, eng, up.URL, func(c *Config, ec *engine.Config) {
					withFallbacks(fb)(c, ec)
					c.MaxRetries = 1
				}, nil)
				st, _, b := call(t, r, route{name, "/v1/messages", body})
				if st != http.StatusOK {
					t.Fatalf("status %d: %s", st, b)
				}
				text, model := answerText(t, stream, b)
				if text != "from "+longModel || model != "claude-sonnet-4-5" {
					t.Fatalf("text %q model %q; want the fallback's answer under the client's model", text, model)
				}
				calls := up.taken()
				want := []string{"gpt-4.1", "gpt-4.1", "gpt-4.1-mini", longModel}
				if got := modelsOf(calls); strings.Join(got, " ") != strings.Join(want, " ") {
					t.Fatalf("models sent %q, want %q", got, want)
				}
				// The same body but for the model.
				first := calls[0].Body
				last := calls[len(calls)-1].Body
				if !json.Valid(last) || !bytes.Equal(bytes.Replace(last, []byte(longModel), []byte("gpt-4.1"), 1), first) {
					t.Fatalf("fallback body differs from the first beyond its model:\n%s\n%s", first, last)
				}
				if n := r.Metrics.Snapshot().Retries.ByCause[causeFallback]; n != 2 {
					t.Fatalf("fallback retries %d, want 2", n)
				}
				if logs := r.logs(); !strings.Contains(logs, `"fallback_model":"`+longModel+`"`) {
					t.Fatalf("fallback not logged:\n%s", logs)
				}
			})
		}
	}
}

// TestNoFallbackOnRequestError: a refusal of the request itself (400) or
// a model without fallbacks is answered as before, without trying
// another model.
func TestNoFallbackOnRequestError(t *testing.T) {
	up := newKeyedUpstream(t, func(c upCall) answer {
		if c.Model == "gpt-4.1" {
			return answer{Status: http.StatusBadRequest, Body: `{"error":{"message":"Invalid schema for function 'x'","type":"invalid_request_error"}}`}
		}
		return answer{Status: http.StatusServiceUnavailable, Body: `{"error":{"message":"overloaded","type":"server_error"}}`}
	})
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRigFor(t, eng, up.URL, withFallbacks(map[string][]string{"gpt-4.1": {"gpt-4.1-mini"}}), nil)
			if st, _, b := call(t, r, route{"unary", "/v1/messages", unaryBody}); st != http.StatusBadRequest {
				t.Fatalf("status %d: %s", st, b)
			}
			if got := modelsOf(up.taken()); len(got) != 1 {
				t.Fatalf("models sent %q, want gpt-4.1 alone", got)
			}
		})
	}
}

// TestNoFallbackMidStream: once a stream has started, a failure ends it
// with an error event as before (then the closing events); no other model is tried. (A guard: no
// code path could fall back there before either.)
func TestNoFallbackMidStream(t *testing.T) {
	var calls atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		calls.Add(1)
		if m := gjson.GetBytes(body, "model").Str; m != "gpt-4.1" {
			t.Errorf("model %s tried after the stream started", m)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, sseBody(chunkJSON(`{"role":"assistant","content":"Let me"}`, "null")))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the upstream connection breaks mid-stream
	}))
	t.Cleanup(up.Close)
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRigFor(t, eng, up.URL, func(c *Config, ec *engine.Config) {
				withFallbacks(map[string][]string{"gpt-4.1": {"gpt-4.1-mini"}})(c, ec)
				c.MaxRetries = -1
			}, nil)
			st, _, b := call(t, r, route{"stream", "/v1/messages", streamBody})
			evs := readEvents(t, strings.NewReader(b))
			if st != http.StatusOK || !slices.Contains(names(evs), "error") {
				t.Fatalf("status %d, events %v; want a stream with an error event", st, names(evs))
			}
		})
	}
	if n := int(calls.Load()); n != len(engines()) {
		t.Fatalf("%d upstream calls, want one per engine", n)
	}
}

// TestFallbackTranslatedForItsModel: a reasoning model's fallback that is
// not one gets the request translated for itself. OpenAI refuses
// reasoning_effort (and answers max_completion_tokens and the developer
// role differently) on gpt-4.1; a body patched only in its model was
// refused with a 400, so the fallback never answered.
func TestFallbackTranslatedForItsModel(t *testing.T) {
	up := newKeyedUpstream(t, func(c upCall) answer {
		switch c.Model {
		case "gpt-5":
			return answer{Status: http.StatusServiceUnavailable, Body: `{"error":{"message":"overloaded","type":"server_error"}}`}
		case "gpt-4.1":
			for _, f := range []string{"reasoning_effort", "max_completion_tokens"} {
				if gjson.GetBytes(c.Body, f).Exists() {
					return answer{Status: http.StatusBadRequest, Body: `{"error":{"message":"Unrecognized request argument supplied: ` + f + `","type":"invalid_request_error"}}`}
				}
			}
			if gjson.GetBytes(c.Body, "messages.0.role").Str != "system" {
				return answer{Status: http.StatusBadRequest, Body: `{"error":{"message":"want the system role","type":"invalid_request_error"}}`}
			}
			return answer{Text: "from " + c.Model}
		}
		return answer{Status: http.StatusNotFound, Body: `{"error":{"message":"no such model"}}`}
	})
	body := `{"model":"claude-opus-4-1","max_tokens":32000,"stream":true,"system":"be brief","thinking":{"type":"enabled","budget_tokens":8000},"messages":[{"role":"user","content":"hi"}]}`
	for _, eng := range engines() {
		t.Run(eng, func(t *testing.T) {
			r := newRigFor(t, eng, up.URL, func(c *Config, ec *engine.Config) {
				models, err := toopenai.NewModels(toopenai.ModelsConfig{Big: "gpt-5", Small: "gpt-4.1-mini"})
				if err != nil {
					t.Fatal(err)
				}
				c.Models = models
				c.MaxRetries = -1
				withFallbacks(map[string][]string{"gpt-5": {"gpt-4.1"}})(c, ec)
			}, nil)
			st, _, b := call(t, r, route{"stream", "/v1/messages", body})
			if st != http.StatusOK {
				t.Fatalf("status %d: %s", st, b)
			}
			if text, model := answerText(t, true, b); text != "from gpt-4.1" || model != "claude-opus-4-1" {
				t.Fatalf("text %q model %q", text, model)
			}
			calls := up.taken()
			if got := modelsOf(calls); strings.Join(got, " ") != "gpt-5 gpt-4.1" {
				t.Fatalf("models sent %q", got)
			}
			if !gjson.GetBytes(calls[0].Body, "reasoning_effort").Exists() {
				t.Fatalf("the first request was not a reasoning model's: %s", calls[0].Body)
			}
		})
	}
}
