package proxy

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/internal/jsondepth"
	"github.com/ccproxy/ccproxy/internal/jsonw"
)

// Anthropic error types (https://docs.anthropic.com/en/api/errors).
const (
	errInvalidRequest  = "invalid_request_error"
	errAuthentication  = "authentication_error"
	errPermission      = "permission_error"
	errNotFound        = "not_found_error"
	errRequestTooLarge = "request_too_large"
	errRateLimit       = "rate_limit_error"
	errAPI             = "api_error"
	errOverloaded      = "overloaded_error"
	// errClientGone is recorded (nginx's 499), never sent: the client
	// has left.
	errClientGone = "client_closed_request"
)

// clientGoneError marks rs as a request whose client left and returns
// the 499 recorded for it; msg says when it left.
func clientGoneError(rs *reqState, msg string) *apiError {
	rs.clientGone = true
	return &apiError{Status: 499, Type: errClientGone, Message: msg}
}

// apiError is an error that reaches the client in Anthropic's envelope
// {"type":"error","error":{"type":...,"message":...}} with Status.
type apiError struct {
	Status     int
	Type       string
	Message    string
	RetryAfter string // passed on as Retry-After when set
	// Upstream is set when the error came from an upstream response; Raw
	// and RawStatus then hold that response's body and status, RawType and
	// RawEncoding its Content-Type and Content-Encoding (on the passthrough
	// routes the client's Accept-Encoding goes upstream, so Raw may be
	// compressed and must leave with its coding named).
	Upstream    bool
	Raw         []byte
	RawStatus   int
	RawType     string
	RawEncoding string
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

// appendErrorJSON appends Anthropic's error envelope.
func appendErrorJSON(dst []byte, typ, msg string) []byte {
	dst = append(dst, `{"type":"error","error":{"type":`...)
	dst = strconv.AppendQuote(dst, typ)
	dst = append(dst, `,"message":`...)
	dst = jsonw.AppendString(dst, msg)
	return append(dst, "}}"...)
}

// upstreamError maps a non-2xx upstream response to the error the client
// sees. body is (a bounded prefix of) the upstream's response body.
func upstreamError(status int, header http.Header, body []byte) *apiError {
	msg := upstreamMessage(body)
	e := &apiError{Status: status, Upstream: true, Raw: body, RawStatus: status,
		RawType: header.Get("Content-Type"), RawEncoding: header.Get("Content-Encoding")}
	switch {
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		e.Status, e.Type = http.StatusBadRequest, errInvalidRequest
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		// The client's own credentials were fine (ccproxy checked them or
		// needs none); telling Claude Code "authentication_error" would make
		// it ask its user to log in again. Say what really failed.
		e.Status, e.Type = http.StatusBadGateway, errAPI
		msg = "the upstream rejected ccproxy's credentials (HTTP " + strconv.Itoa(status) + "): check OPENAI_API_KEY; upstream said: " + msg
	case status == http.StatusNotFound:
		e.Type = errNotFound
	case status == http.StatusRequestEntityTooLarge:
		e.Type = errRequestTooLarge
	case status == http.StatusTooManyRequests:
		e.Type = errRateLimit
		e.RetryAfter = header.Get("Retry-After")
	case status == http.StatusServiceUnavailable || status == 529:
		e.Status, e.Type = 529, errOverloaded
		e.RetryAfter = header.Get("Retry-After")
	case status == http.StatusRequestTimeout:
		e.Status, e.Type = http.StatusGatewayTimeout, errAPI
	case status == http.StatusInternalServerError || status == http.StatusBadGateway ||
		status == http.StatusGatewayTimeout:
		e.Type = errAPI
	case status >= 500:
		e.Status, e.Type = http.StatusBadGateway, errAPI
	default:
		// Other 4xx: the request was refused; keep the status.
		e.Type = errInvalidRequest
	}
	e.Message = msg
	return e
}

// statusOfType is the HTTP status Anthropic answers with for an error type
// (an upstream's error object inside a 200 answer carries only a type).
func statusOfType(typ string) int {
	switch typ {
	case errInvalidRequest:
		return http.StatusBadRequest
	case errNotFound:
		return http.StatusNotFound
	case errRequestTooLarge:
		return http.StatusRequestEntityTooLarge
	case errRateLimit:
		return http.StatusTooManyRequests
	case errOverloaded:
		return 529
	}
	return http.StatusBadGateway
}

// upstreamMessage extracts a human message from an OpenAI-style error body.
func upstreamMessage(body []byte) string {
	if len(body) == 0 {
		return "upstream returned no body"
	}
	if _, msg, ok := errorEnvelope(body); ok && msg != "" {
		return msg
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 512 {
		s = s[:512] + "…"
	}
	return s
}

// errorEnvelope reads an upstream's JSON error body in the shapes
// OpenAI-compatible upstreams use: {"error":{"message":...,"code":...}},
// {"error":"..."}, vLLM's bare {"object":"error","message":...}, and
// Google's array of one, [{"error":{...}}]. fields is the object that holds
// the code and type (the error object, else the root); msg the message ("" if
// none). ok is false when body is not JSON.
func errorEnvelope(body []byte) (fields gjson.Result, msg string, ok bool) {
	if !gjson.ValidBytes(body) {
		return fields, "", false
	}
	root := gjson.ParseBytes(bytes.TrimSpace(body))
	if root.IsArray() {
		root = root.Get("0")
	}
	fields = root
	switch e := root.Get("error"); {
	case e.IsObject():
		fields, msg = e, e.Get("message").String()
	case e.Type == gjson.String:
		msg = e.Str
	}
	if r := root.Get("message"); msg == "" && r.Type == gjson.String {
		msg = r.Str
	}
	return fields, msg, true
}

// transportError maps an engine error (no response head) to a client error.
func transportError(err error) *apiError {
	switch {
	case errors.Is(err, errCircuitOpen):
		return &apiError{Status: http.StatusServiceUnavailable, Type: errOverloaded,
			Message: "upstream is failing; ccproxy's circuit breaker is open", RetryAfter: "10"}
	case errors.Is(err, engine.ErrPoolTimeout):
		return &apiError{Status: 529, Type: errOverloaded,
			Message: "no upstream connection became free in time", RetryAfter: "1"}
	case engine.IsTimeout(err) || errors.Is(err, context.DeadlineExceeded):
		return &apiError{Status: http.StatusGatewayTimeout, Type: errAPI,
			Message: "upstream timed out: " + err.Error()}
	default:
		return &apiError{Status: http.StatusBadGateway, Type: errAPI,
			Message: "upstream unreachable: " + err.Error()}
	}
}

// writeError writes e in Anthropic's envelope.
func writeError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if e.RetryAfter != "" {
		h.Set("Retry-After", e.RetryAfter)
	}
	w.WriteHeader(e.Status)
	var buf [512]byte
	w.Write(appendErrorJSON(buf[:0], e.Type, e.Message))
}

// maxJSONDepth bounds the nesting of request bodies that ccproxy parses
// with recursive decoders (count_tokens, passthrough): deeper documents
// are refused before they can exhaust the stack.
const maxJSONDepth = 256

// checkDepth returns an error when body nests arrays and objects deeper
// than maxJSONDepth.
func checkDepth(body []byte) *apiError {
	if jsondepth.Exceeds(body, maxJSONDepth) {
		return &apiError{Status: http.StatusBadRequest, Type: errInvalidRequest,
			Message: "request body nests JSON deeper than " + strconv.Itoa(maxJSONDepth) + " levels"}
	}
	return nil
}
