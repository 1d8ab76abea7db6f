package toopenai

// RequestError reports a client request that cannot be translated. The HTTP
// edge answers it with 400 and an Anthropic invalid_request_error.
type RequestError struct {
	// Field is the path of the offending field, e.g. "messages.3.content",
	// or "body" when the body itself is malformed.
	Field string
	// Message says what is wrong with it.
	Message string
}

// Error returns "<field>: <message>".
func (e *RequestError) Error() string { return e.Field + ": " + e.Message }
