// Package toopenai translates an Anthropic Messages request body into an
// OpenAI Chat Completions request body.
//
// Translate validates the body once with an iterative, depth-bounded scanner
// that also indexes where large containers end, then walks each level once
// and appends the OpenAI JSON into the caller's buffer. Long texts, tool
// schemas and other opaque values are copied as raw JSON bytes (both APIs
// use JSON strings, so no unescape/re-escape is needed); only tool_use
// inputs are re-encoded, as OpenAI wants them as a string.
//
// Gemini thought signatures: a tool_use id (or tool_result tool_use_id)
// that toanthropic built to carry one, "<upstream id>__ccpts1__<base64url
// signature>", is split back: the tool call and its tool message get the
// upstream id, and the call gets extra_content.google.thought_signature
// with the signature's exact bytes, which Gemini 3 requires on the next
// request. Any other id is copied byte for byte and no extra_content is
// ever sent for it (OpenAI rejects unknown fields).
//
// Models maps Anthropic model names to upstream models and knows their
// limits.
package toopenai
