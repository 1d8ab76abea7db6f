package toanthropic

import "fmt"

// Config describes one response to translate.
type Config struct {
	// Model is the model name the client asked for; it is echoed in
	// message_start and in the message.
	Model string
	// MessageID is the Anthropic message id ("msg_..."). NewStream, Reset and
	// Message generate a random one when it is empty.
	MessageID string
	// InputTokens is the input token estimate for message_start; the real
	// usage, when the upstream reports it, goes into message_delta.
	InputTokens int
	// Thinking reports that the client requested extended thinking:
	// reasoning_content / reasoning then become thinking blocks; otherwise
	// reasoning is dropped.
	Thinking bool
	// StopSequences are the client's stop sequences, used to tell
	// stop_sequence from end_turn (see the package documentation).
	StopSequences []string
	// ToolNames maps tool names as the upstream knows them to the client's
	// names: ccproxy shortens names longer than OpenAI allows (see
	// toopenai.Info.ToolNames). Tool calls naming an alias get the client's
	// name back; nil maps nothing.
	ToolNames map[string]string
}

// Usage is the token usage of one response, in Anthropic's terms.
type Usage struct {
	// InputTokens excludes cache reads.
	InputTokens int
	// OutputTokens includes thinking / reasoning tokens.
	OutputTokens int
	// CacheReadInputTokens are prompt tokens served from the upstream's cache.
	CacheReadInputTokens int
}

// UpstreamError is an error object sent by the upstream inside a 200 answer
// (a mid-stream "data: {"error":...}" chunk or an error body).
type UpstreamError struct {
	// Type is the Anthropic error type it maps to: rate_limit_error,
	// overloaded_error or api_error.
	Type string
	// Message is the upstream's error message.
	Message string
}

// Error is an error Finish reports with its own Anthropic type and
// message, as they are: one of the proxy's own (shutting down, a stream
// cut at its time limit), not an upstream failure.
type Error struct {
	Type    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func (e *UpstreamError) Error() string {
	return fmt.Sprintf("toanthropic: upstream error (%s): %s", e.Type, e.Message)
}
