package toanthropic

import (
	"errors"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// TestErrorType pins how upstream error objects map to Anthropic types.
func TestErrorType(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"message":"x","type":"BadRequestError","code":400}`, "invalid_request_error"},
		{`{"message":"x","type":"invalid_request_error","code":"context_length_exceeded"}`, "invalid_request_error"},
		{`{"message":"x","code":"422"}`, "invalid_request_error"},
		{`{"message":"x","status":"INVALID_ARGUMENT"}`, "invalid_request_error"},
		{`{"message":"x","type":"NotFoundError","code":404}`, "not_found_error"},
		{`{"message":"x","code":413}`, "request_too_large"},
		{`{"message":"x","type":"RateLimitError","code":429}`, "rate_limit_error"},
		{`{"message":"x","type":"server_overloaded"}`, "overloaded_error"},
		{`{"message":"x","type":"AuthenticationError","code":401}`, "api_error"},
		{`{"message":"x","type":"InternalServerError","code":500}`, "api_error"},
		{`{"message":"x","code":4000}`, "api_error"},
		{`"boom"`, "api_error"},
	} {
		if got := errorType(gjson.Parse(c.in)); got != c.want {
			t.Errorf("%s: %s, want %s", c.in, got, c.want)
		}
	}
}

// TestStreamBareErrorObject: an error object without the {"error":...}
// wrapper (older vLLM) fails the stream as a wrapped one does; a normal
// chunk's "object" does not.
func TestStreamBareErrorObject(t *testing.T) {
	s := NewStream(Config{Model: "m"})
	out, err := s.Event(nil, []byte(`{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"}}]}`))
	if err != nil || s.Done() {
		t.Fatalf("normal chunk: %v", err)
	}
	out, err = s.Event(out, []byte(`{"object":"error","message":"too \"long\"","type":"BadRequestError","param":null,"code":400}`))
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Type != "invalid_request_error" || ue.Message != `too "long"` || !s.Done() {
		t.Fatalf("bare error: err %v done %v", err, s.Done())
	}
	if err := validate(out, true); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	o := string(out)
	if !strings.Contains(o, `"error":{"type":"invalid_request_error","message":"too \"long\""}`) ||
		strings.Index(o, "event: error") > strings.Index(o, "event: message_delta") {
		t.Fatalf("no error event before message_delta:\n%s", o)
	}
}

// TestMessageBareErrorObject: the unary path reports such a body as the
// upstream's error, not as an answer without choices.
func TestMessageBareErrorObject(t *testing.T) {
	out, _, _, err := Message(nil, []byte(`{"object":"error","message":"slow down","type":"RateLimitError","code":429}`), Config{})
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Type != "rate_limit_error" || ue.Message != "slow down" || len(out) != 0 {
		t.Fatalf("err %v out %q", err, out)
	}
}
