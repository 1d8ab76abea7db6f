package proxy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestFidelityBareErrorChunk: older vLLM and some gateways send a
// mid-stream error as the error object itself, without the {"error":...}
// wrapper. It was ignored and the stream ended as a normal end_turn with
// an empty or cut answer; it must end the stream with an error event, as
// a wrapped error does, typed after its code.
func TestFidelityBareErrorChunk(t *testing.T) {
	const msgText = "This model's maximum context length is 32768 tokens."
	body := sseBody(
		chunkJSON(`{"role":"assistant","content":"Let me"}`, "null"),
		`{"object":"error","message":"`+msgText+`","type":"BadRequestError","param":null,"code":400}`,
		"[DONE]")
	up := scriptedUpstream(t, "text/event-stream", body)
	r := newRigFor(t, "nethttp", up, quietLog, nil)
	resp := post(t, r.URL, "/v1/messages", []byte(fidelityRequest), nil)
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	evs := readEvents(t, resp.Body)
	data := checkGrammar(t, evs)
	var errEv map[string]any
	for i, ev := range evs {
		if ev.Name == "error" {
			errEv, _ = data[i]["error"].(map[string]any)
		}
		if ev.Name == "message_delta" && errEv == nil {
			t.Fatalf("message_delta before any error event: %v", names(evs))
		}
	}
	if errEv == nil || errEv["type"] != "invalid_request_error" || errEv["message"] != msgText {
		t.Fatalf("error event %v; want invalid_request_error %q (events %v)", errEv, msgText, names(evs))
	}

	// A rate limit sent the same way keeps its type.
	body = sseBody(`{"object":"error","message":"slow down","type":"RateLimitError","code":429}`)
	up = scriptedUpstream(t, "text/event-stream", body)
	r = newRigFor(t, "nethttp", up, quietLog, nil)
	resp2 := post(t, r.URL, "/v1/messages", []byte(fidelityRequest), nil)
	defer resp2.Body.Close()
	evs = readEvents(t, resp2.Body)
	data = checkGrammar(t, evs)
	found := false
	for i, ev := range evs {
		if e, _ := data[i]["error"].(map[string]any); ev.Name == "error" && e["type"] == "rate_limit_error" && e["message"] == "slow down" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no rate_limit_error event: %v", evs)
	}

	// The unary path: such a body is the upstream's error, reported with
	// its message, not "no choices".
	up = scriptedUpstream(t, "application/json", `{"object":"error","message":"`+msgText+`","type":"BadRequestError","param":null,"code":400}`)
	r = newRigFor(t, "nethttp", up, quietLog, nil)
	resp3 := post(t, r.URL, "/v1/messages", []byte(strings.Replace(fidelityRequest, `"stream":true`, `"stream":false`, 1)), nil)
	defer resp3.Body.Close()
	b, _ := io.ReadAll(resp3.Body)
	var env struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &env); err != nil || resp3.StatusCode != 400 || env.Type != "error" ||
		env.Error.Type != "invalid_request_error" || !strings.Contains(env.Error.Message, msgText) {
		t.Fatalf("unary status %d body %s; want a 400 invalid_request_error carrying %q", resp3.StatusCode, b, msgText)
	}

	// An upstream that ignores stream:true and answers such a body: the
	// stream ends with that error, not as an empty end_turn.
	up = scriptedUpstream(t, "application/json", `{"object":"error","message":"`+msgText+`","type":"BadRequestError","param":null,"code":400}`)
	r = newRigFor(t, "nethttp", up, quietLog, nil)
	resp4 := post(t, r.URL, "/v1/messages", []byte(fidelityRequest), nil)
	defer resp4.Body.Close()
	evs = readEvents(t, resp4.Body)
	data = checkGrammar(t, evs)
	found = false
	for i, ev := range evs {
		if e, _ := data[i]["error"].(map[string]any); ev.Name == "error" && e["type"] == "invalid_request_error" && e["message"] == msgText {
			found = true
		}
	}
	if !found {
		t.Fatalf("an upstream ignoring stream:true with an error object: no invalid_request_error event: %v", evs)
	}
}

// TestFidelityUnknownFinish: Gemini's MALFORMED_FUNCTION_CALL (its tool
// call failed) and other finish reasons ccproxy does not know end the
// answer visibly: the stream sends an error event naming the reason before
// message_delta (counted as api_error), a unary answer is a 502 api_error;
// Gemini's upper-case STOP is a normal end.
func TestFidelityUnknownFinish(t *testing.T) {
	body := sseBody(chunkJSON(`{"role":"assistant","content":"Let me"}`, "null"), chunkJSON(`{}`, `"MALFORMED_FUNCTION_CALL"`), "[DONE]")
	up := scriptedUpstream(t, "text/event-stream", body)
	r := newRigFor(t, "nethttp", up, quietLog, nil)
	resp := post(t, r.URL, "/v1/messages", []byte(fidelityRequest), nil)
	evs := readEvents(t, resp.Body)
	resp.Body.Close()
	data := checkGrammar(t, evs)
	i := slices.Index(names(evs), "error")
	if i < 0 || i > slices.Index(names(evs), "message_delta") {
		t.Fatalf("want an error event before message_delta: %v", names(evs))
	}
	if e := data[i]["error"].(map[string]any); e["type"] != "api_error" || !strings.Contains(e["message"].(string), "MALFORMED_FUNCTION_CALL") {
		t.Fatalf("error event %v", e)
	}
	eventually(t, func() bool { return r.Metrics.Snapshot().Errors.ByType["api_error"] == 1 },
		func() string { return fmt.Sprintf("errors %v", r.Metrics.Snapshot().Errors.ByType) })

	up = scriptedUpstream(t, "application/json", `{"choices":[{"index":0,"message":{"role":"assistant","content":"Let me"},"finish_reason":"MALFORMED_FUNCTION_CALL"}]}`)
	r = newRigFor(t, "nethttp", up, quietLog, nil)
	resp = post(t, r.URL, "/v1/messages", []byte(strings.Replace(fidelityRequest, `"stream":true`, `"stream":false`, 1)), nil)
	if typ, msg := errorBody(t, resp); resp.StatusCode != http.StatusBadGateway || typ != "api_error" || !strings.Contains(msg, "MALFORMED_FUNCTION_CALL") {
		t.Fatalf("unary: %d %s %q", resp.StatusCode, typ, msg)
	}

	_, m := fidelityStream(t, sseBody(chunkJSON(`{"role":"assistant","content":"done"}`, `"STOP"`), "[DONE]"), fidelityRequest)
	if m.StopReason != "end_turn" {
		t.Fatalf("STOP: stop_reason %q", m.StopReason)
	}
}

// TestGeminiArrayErrorBody: Google's OpenAI-compatible endpoint answers
// errors as a one-element array, [{"error":{...}}]. The client must get the
// inner message, not the raw array as text.
func TestGeminiArrayErrorBody(t *testing.T) {
	const msgText = "Function call is missing a thought_signature in functionCall parts."
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, ` [{"error":{"code":400,"message":"`+msgText+`","status":"INVALID_ARGUMENT"}}]`)
	}))
	t.Cleanup(srv.Close)
	r := newRigFor(t, "nethttp", srv.URL, quietLog, nil)
	resp := post(t, r.URL, "/v1/messages", []byte(fidelityRequest), nil)
	defer resp.Body.Close()
	var got struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest || got.Type != "error" || got.Error.Type != "invalid_request_error" || got.Error.Message != msgText {
		t.Fatalf("status %d, body %+v; want 400 invalid_request_error %q", resp.StatusCode, got, msgText)
	}
}

// TestLateThoughtSignatureLogged: a Gemini thought signature that comes
// after its call's block started cannot reach the client (the id has
// left), so the next turn will be refused; ccproxy says so in its log.
func TestLateThoughtSignatureLogged(t *testing.T) {
	body := sseBody(
		`{"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"c0","type":"function","function":{"name":"Read","arguments":"{\"pa"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"th\":1}"},"extra_content":{"google":{"thought_signature":"too-late"}}}]}}]}`,
		`{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
		"[DONE]")
	r := newRigFor(t, "nethttp", scriptedUpstream(t, "text/event-stream", body), nil, nil)
	resp := post(t, r.URL, "/v1/messages", []byte(fidelityRequest), nil)
	checkGrammar(t, readEvents(t, resp.Body))
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second) // the line is written after the response ends
	for !strings.Contains(r.logs(), "thought signatures arrived after") {
		if time.Now().After(deadline) {
			t.Fatalf("no warning about the dropped signature; logs:\n%s", r.logs())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
