package toopenai

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash/maphash"
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
	hash             uint64 // nameHash of the name
}

// at returns the slice of the request that s.name recorded.
func (t *translator) at(s sentTool) []byte {
	i := cap(t.raw) - s.capName
	return t.raw[i : i+s.lenName]
}

// pairwiseNames is how many tools' names checkUnique compares pairwise
// (less than clearing a table costs, for the few dozen tools of a Claude
// Code request); with more, it looks names up in a hash table, so that a
// body of many thousand tools costs time in proportion to their number,
// not its square (a 32 MiB body holds a million minimal tools).
const pairwiseNames = 32

// keepNames bounds the list of names (and its table) a scratch keeps for
// its next use: a request of many tools does not leave its lists pooled.
const keepNames = 1 << 10

// checkUnique refuses the tool at tools.idx, about to be sent upstream
// under name, when a tool sent before it has the same name, as Anthropic
// refuses such a request ("tools: Tool names must be unique."), and else
// records it. Names are compared decoded ("a\/b" is "a/b"), so an
// Anthropic-defined client tool and a custom tool of the same name are a
// duplicate too. Server tools, which are dropped rather than sent, are not
// checked. Each name is hashed once (seeded per scratch: a client cannot
// choose names that collide) and only names of equal hashes are compared:
// with every earlier one up to pairwiseNames tools, then through a table
// of the names by hash (open addressing, rebuilt as it fills). Neither
// allocates once the scratch's lists have grown.
func (t *translator) checkUnique(name []byte, idx int) error {
	sc := t.sc
	h := nameHash(sc.seed, name)
	if n := len(sc.names); n < pairwiseNames {
		for _, s := range sc.names {
			if s.hash == h && sameName(t.at(s), name) {
				return duplicateTool(s.idx, idx, name)
			}
		}
	} else {
		if t.hashed != n || 2*(n+1) > len(sc.slots) {
			t.rehash()
		}
		mask := uint64(len(sc.slots) - 1)
		i := h & mask
		for ; sc.slots[i] != 0; i = (i + 1) & mask {
			if s := sc.names[sc.slots[i]-1]; s.hash == h && sameName(t.at(s), name) {
				return duplicateTool(s.idx, idx, name)
			}
		}
		sc.slots[i] = int32(n + 1)
		t.hashed++
	}
	sc.names = append(sc.names, sentTool{capName: cap(name), lenName: len(name), idx: idx, hash: h})
	return nil
}

// rehash builds the table of the names recorded so far (slots holding
// their index + 1, 0 for none), at least four slots a name: it is
// rebuilt when more than half full.
func (t *translator) rehash() {
	sc := t.sc
	size := 2 * pairwiseNames
	for size < 4*len(sc.names) {
		size <<= 1
	}
	if cap(sc.slots) < size {
		sc.slots = make([]int32, size)
	} else {
		sc.slots = sc.slots[:size]
		clear(sc.slots)
	}
	mask := uint64(size - 1)
	for k, s := range sc.names {
		i := s.hash & mask
		for sc.slots[i] != 0 {
			i = (i + 1) & mask
		}
		sc.slots[i] = int32(k + 1)
	}
	t.hashed = len(sc.names)
}

// duplicateTool is Anthropic's refusal of two tools (at tools.first and
// tools.second) both named name (a raw JSON string).
func duplicateTool(first, second int, name []byte) error {
	return &RequestError{Field: "tools", Message: "Tool names must be unique. tools." + strconv.Itoa(first) +
		" and tools." + strconv.Itoa(second) + " are both named " + strconv.Quote(unquote(name)) + "."}
}

// nameHash returns the hash of the name the raw JSON string holds,
// decoded: names that sameName finds equal hash alike. It allocates only
// for a name written with escapes.
func nameHash(seed maphash.Seed, raw []byte) uint64 {
	if in := inner(raw); bytes.IndexByte(in, '\\') < 0 {
		return maphash.Bytes(seed, in)
	}
	return maphash.String(seed, unquote(raw))
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
	for _, s := range t.sc.names {
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
