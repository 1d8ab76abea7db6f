// Package toopenai translates an Anthropic Messages request body into an
// OpenAI Chat Completions request body.
//
// Translate validates the body once with an iterative, depth-bounded scanner
// that also indexes where large containers end, then walks each level once
// and appends the OpenAI JSON into the caller's buffer. Long texts, tool
// schemas and other opaque values are copied as raw JSON bytes (both APIs
// use JSON strings, so no unescape/re-escape is needed); only tool_use
// inputs are re-encoded, as OpenAI wants them as a string. Models maps
// Anthropic model names to upstream models and knows their limits.
package toopenai
