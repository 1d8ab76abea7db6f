package tokens

// InvalidRequestError reports a count_tokens body that cannot be counted. The
// HTTP edge answers it with 400 invalid_request_error. Field is the JSON path of
// the offending value in Anthropic's error style ("messages", "messages.2.content",
// "tools.0"); it is "body" when the body itself is not a JSON object.
type InvalidRequestError struct {
	Field  string // JSON path of the bad value, e.g. "messages.1.content"
	Reason string // lowercase human explanation, e.g. "must be an array"
}

// Error implements error.
func (e *InvalidRequestError) Error() string {
	return "tokens: invalid request: " + e.Field + ": " + e.Reason
}

func invalid(field, reason string) error {
	return &InvalidRequestError{Field: field, Reason: reason}
}
