package proxy

import (
	"regexp"
)

// Secrets that must never reach a log line, even at trace level where
// request and response bodies are logged.
var (
	// redactKeyValue matches a JSON (or header-like) field whose name says
	// it holds a credential, and its string value.
	// The quotes may come escaped (a JSON document inside a JSON string).
	redactKeyValue = regexp.MustCompile(`(?i)((?:authorization|x-api-key|api[_-]?key|access[_-]?token|secret)(?:\\*")?\s*[:=]\s*(?:\\*")?)(?:Bearer\s+)?[^"\\\s,}]+`)
	// redactToken matches bare provider keys such as sk-..., sk-ant-...
	redactToken = regexp.MustCompile(`\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{8,}`)
)

// redact returns s with credentials replaced by "[REDACTED]". It is for
// trace-level logging only (regular expressions are not hot-path cheap).
func redact(s string) string {
	s = redactKeyValue.ReplaceAllString(s, `${1}[REDACTED]`)
	return redactToken.ReplaceAllString(s, "[REDACTED]")
}
