package toopenai

import (
	"crypto/sha256"
	"encoding/hex"
)

// maxToolName is OpenAI's limit on a function name. Anthropic allows 128
// characters, and Claude Code's MCP tools (mcp__<server>__<tool>) can pass
// 64: an upstream would reject every request of such a session, since each
// one carries all the tools.
const maxToolName = 64

// appendToolName appends raw, a tool name as the client sent it (a JSON
// string), as the upstream sees it: unchanged when it fits OpenAI's limit,
// else as toolAlias(name). With names non-nil, a shortened name is
// recorded in *names (alias → name) for mapping the answer's tool calls
// back.
func appendToolName(dst, raw []byte, names *map[string]string) []byte {
	// Escapes only make raw longer than the name it holds.
	if len(raw)-2 <= maxToolName {
		return append(dst, raw...)
	}
	name := unquote(raw)
	if len(name) <= maxToolName {
		return append(dst, raw...)
	}
	alias := toolAlias(name)
	if names != nil {
		if *names == nil {
			*names = make(map[string]string, 4)
		}
		(*names)[alias] = name
	}
	dst = append(dst, '"')
	dst = append(dst, alias...)
	return append(dst, '"')
}

// toolAlias shortens a name longer than maxToolName to exactly that many
// bytes: its first 55 bytes (any byte OpenAI does not allow in a name
// becomes '_'), '_', and 8 hex digits of the name's SHA-256. The same name
// gets the same alias in every request, so the tool calls of earlier turns
// keep naming their tool; names that share their first 55 bytes still get
// different aliases.
func toolAlias(name string) string {
	const keep = maxToolName - 9
	sum := sha256.Sum256([]byte(name))
	var b [maxToolName]byte
	for i := range keep {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			c = '_'
		}
		b[i] = c
	}
	b[keep] = '_'
	hex.Encode(b[keep+1:], sum[:4])
	return string(b[:])
}
