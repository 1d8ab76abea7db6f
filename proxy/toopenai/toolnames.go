package toopenai

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// maxToolName is OpenAI's limit on a function name. Anthropic allows 128
// characters, and Claude Code's MCP tools (mcp__<server>__<tool>) can pass
// 64: an upstream would reject every request of such a session, since each
// one carries all the tools.
const maxToolName = 64

// appendToolName appends raw, a tool name as the client sent it (a JSON
// string), as the upstream sees it: unchanged when it fits OpenAI's limit,
// else as toolAlias(name). A shortened name is recorded in *t.toolNames
// (alias → name) for mapping the answer's tool calls back. Two names
// sharing an alias (their first 55 bytes alike once sanitised, and 32 bits
// of their hashes) keep the first mapping and are recorded in t.clash, for
// the request to be refused: the upstream could not tell them apart.
func (t *translator) appendToolName(dst, raw []byte) []byte {
	// Escapes only make raw longer than the name it holds.
	if len(raw)-2 <= maxToolName {
		return append(dst, raw...)
	}
	name := unquote(raw)
	if len(name) <= maxToolName {
		return append(dst, raw...)
	}
	alias := toolAlias(name)
	names := t.toolNames
	if *names == nil {
		*names = make(map[string]string, 4)
	}
	switch old, ok := (*names)[alias]; {
	case !ok:
		(*names)[alias] = name
	case old != name && t.clash[0] == "":
		t.clash = [2]string{old, name}
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

// sentTool is a tool sent upstream: where its name (a raw JSON string, as
// the client wrote it) lies in the request (see translator.at) and the
// tool's index in tools. Offsets, not a slice: a slice of the body stored
// in the pooled scratch would move the translator's index to the heap.
type sentTool struct {
	capName, lenName int
	idx              int
	hash             uint32 // nameHash of the name
}

// at returns the slice of the request that s.name recorded.
func (t *translator) at(s sentTool) []byte {
	i := cap(t.raw) - s.capName
	return t.raw[i : i+s.lenName]
}

// checkUnique refuses the tool at tools.idx, about to be sent upstream
// under name, when a tool sent before it has the same name, as Anthropic
// refuses such a request ("tools: Tool names must be unique."), and else
// records it. Names are compared decoded ("a\/b" is "a/b"), so an
// Anthropic-defined client tool and a custom tool of the same name are a
// duplicate too. Server tools, which are dropped rather than sent, are not
// checked. Each name is compared with every earlier one: O(n²) for n tools,
// which for the few dozen tools of a request costs less than a map and
// allocates nothing: each name is hashed once, and only names of equal
// hashes are compared.
func (t *translator) checkUnique(name []byte, idx int) error {
	h := nameHash(name)
	for _, s := range *t.names {
		if s.hash == h && sameName(t.at(s), name) {
			return &RequestError{Field: "tools", Message: "Tool names must be unique. tools." + strconv.Itoa(s.idx) +
				" and tools." + strconv.Itoa(idx) + " are both named " + strconv.Quote(unquote(name)) + "."}
		}
	}
	*t.names = append(*t.names, sentTool{capName: cap(name), lenName: len(name), idx: idx, hash: h})
	return nil
}

// nameHash returns the FNV-1a hash of the name the raw JSON string holds,
// decoded: names that sameName finds equal hash alike. It allocates only
// for a name written with escapes.
func nameHash(raw []byte) uint32 {
	if in := inner(raw); bytes.IndexByte(in, '\\') < 0 {
		return fnv1a(in)
	}
	return fnv1a(unquote(raw))
}

// fnv1a is the 32-bit FNV-1a hash of s.
func fnv1a[T string | []byte](s T) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// sameName reports whether the raw JSON strings a and b hold the same
// name, allocating only when one is written with escapes.
func sameName(a, b []byte) bool {
	ia, ib := inner(a), inner(b)
	if bytes.IndexByte(ia, '\\') < 0 && bytes.IndexByte(ib, '\\') < 0 {
		return bytes.Equal(ia, ib)
	}
	return unquote(a) == unquote(b)
}

// checkAliases refuses a request in which two different tools would reach
// the upstream under one name, which it could not tell apart (and whose
// calls ccproxy could not map back): two long names sharing an alias
// (t.clash), or a tool whose own name, exactly 64 characters long, is the
// alias of a longer one (of the tools, or of an earlier tool call). It
// costs nothing when no name was shortened.
func (t *translator) checkAliases(field string) error {
	if t.clash[0] != "" {
		return &RequestError{Field: field, Message: "tool names " + strconv.Quote(t.clash[0]) + " and " + strconv.Quote(t.clash[1]) +
			" would both be sent upstream as " + strconv.Quote(toolAlias(t.clash[0])) +
			" (shortened to OpenAI's 64 characters), which could not tell them apart; rename one of them"}
	}
	if *t.toolNames == nil {
		return nil
	}
	for _, s := range *t.names {
		if s.lenName-2 < maxToolName { // an alias is exactly maxToolName bytes
			continue
		}
		name := unquote(t.at(s))
		if long, ok := (*t.toolNames)[name]; ok && long != name {
			return &RequestError{Field: "tools." + strconv.Itoa(s.idx) + ".name", Message: strconv.Quote(name) +
				" is the name ccproxy sends upstream in place of the tool name " + strconv.Quote(long) +
				" (shortened to OpenAI's 64 characters), which could not tell the two apart; rename one of them"}
		}
	}
	return nil
}
