package toopenai

import (
	"bytes"
	"strconv"

	"github.com/rs/zerolog"
)

// appendTools writes tools, tool_choice and parallel_tool_calls; when no
// tool remains, none of the three fields is sent. Names too long for OpenAI
// are shortened (see appendToolName) and recorded in t.toolNames.
//
// A tool with a type other than "custom" and no input_schema is either an
// Anthropic-defined client tool (bash, text editor, computer, memory: see
// clienttools.go), sent as a function with Anthropic's schema, or a server
// tool (web_search, web_fetch, code_execution, tool_search_tool), which only
// Anthropic's API can run, or of a type ccproxy does not know, which it
// treats as a server tool (its error message says which). A request that depends
// on server tools (tool_choice names one, or all its tools are server
// tools and tool_choice is not "none") is refused with a *RequestError
// naming the tool; otherwise they are dropped and listed in
// Info.DroppedTools for the caller to warn about.
//
// The logger is a parameter rather than a translator field: zerolog's event
// API leaks its receiver, which would move the translator's stack-held
// index to the heap.
func (t *translator) appendTools(dst, tools, choice []byte, log *zerolog.Logger) ([]byte, error) {
	if tools == nil || string(tools) == "null" {
		return dst, nil
	}
	if !isArray(tools) {
		return dst, &RequestError{Field: "tools", Message: "must be an array"}
	}
	mark := len(dst)
	dst = append(dst, `,"tools":[`...)
	n, idx := 0, 0
	nServer, firstServer := 0, 0
	var server toolDef // the first server tool
	it := indexed(tools, t.ix)
	for _, v, ok := it.next(); ok; _, v, ok = it.next() {
		if !isObject(v) {
			return dst[:mark], &RequestError{Field: "tools." + strconv.Itoa(idx), Message: "must be an object"}
		}
		tf := t.toolFields(v)
		name, desc, schema := tf.name, tf.desc, tf.schema
		if !isString(name) {
			return dst[:mark], &RequestError{Field: "tools." + strconv.Itoa(idx) + ".name", Message: "must be a string"}
		}
		if tf.typ != nil && !isString(tf.typ) {
			return dst[:mark], &RequestError{Field: "tools." + strconv.Itoa(idx) + ".type", Message: "must be a string"}
		}
		idx++
		var ct *clientTool
		if !tf.custom() {
			if ct = lookupClientTool(tf.typ); ct == nil {
				if nServer == 0 {
					server, firstServer = tf, idx-1
				}
				nServer++
				continue
			}
		}
		if err := t.checkUnique(name, idx-1); err != nil {
			return dst[:mark], err
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		if ct != nil {
			dst = t.appendClientTool(dst, v, name, ct)
			continue
		}
		dst = append(dst, `{"type":"function","function":{"name":`...)
		dst = t.appendToolName(dst, name)
		if isString(desc) {
			t.textBytes += len(desc) - 2
			dst = append(dst, `,"description":`...)
			dst = append(dst, desc...)
		}
		dst = append(dst, `,"parameters":`...)
		if isObject(schema) {
			t.textBytes += len(schema)
			dst = append(dst, schema...)
		} else {
			dst = append(dst, `{"type":"object","properties":{}}`...)
		}
		dst = append(dst, "}}"...)
	}
	if n == 0 {
		if nServer > 0 && !choiceIsNone(choice) {
			return dst[:mark], &RequestError{Field: "tools." + strconv.Itoa(firstServer),
				Message: serverToolMessage(&server) + "; it is the only kind of tool in this request"}
		}
		t.recordServerTools(tools, nServer)
		return dst[:mark], nil
	}
	dst = append(dst, ']')
	if err := t.checkAliases("tools"); err != nil {
		return dst[:mark], err
	}
	dst, err := t.appendToolChoice(dst, choice, tools, log)
	if err != nil {
		return dst[:mark], err
	}
	t.recordServerTools(tools, nServer)
	return dst, nil
}

// serverToolMessage says why the tool d (neither custom nor a client tool)
// cannot go upstream: it is a server tool, or a type ccproxy does not know.
func serverToolMessage(d *toolDef) string {
	head := "tool " + strconv.Quote(unquote(d.name)) + " has type " + strconv.Quote(unquote(d.typ))
	if isServerType(inner(d.typ)) {
		return head + ", a server tool: it runs only on Anthropic's API, and the configured upstream (an OpenAI-compatible API) cannot run it"
	}
	return head + ", a tool type ccproxy does not know: it emulates only Anthropic's client tools (bash, text_editor, computer, memory) " +
		"and sends tools with an input_schema as they are, so it cannot give this one to the configured upstream (an OpenAI-compatible API)"
}

// serverTypes are the type prefixes of Anthropic's server tools.
var serverTypes = []string{"web_search_", "web_fetch_", "code_execution_", "tool_search_tool_", "mcp_toolset"}

// isServerType reports whether typ (a type, unquoted) is a server tool's.
func isServerType(typ []byte) bool {
	for _, p := range serverTypes {
		if bytes.HasPrefix(typ, []byte(p)) {
			return true
		}
	}
	return false
}

// recordServerTools reports each of the nServer server tools in tools as
// dropped, in Info.DroppedTools (allocated only when nServer > 0).
func (t *translator) recordServerTools(tools []byte, nServer int) {
	if nServer == 0 {
		return
	}
	dropped := make([]DroppedTool, 0, nServer)
	it := indexed(tools, t.ix)
	for _, v, ok := it.next(); ok; _, v, ok = it.next() {
		if d := t.toolFields(v); !d.custom() && lookupClientTool(d.typ) == nil {
			dropped = append(dropped, DroppedTool{Name: unquote(d.name), Type: unquote(d.typ)})
		}
	}
	*t.dropped = dropped
}

// choiceIsNone reports whether tool_choice is {"type":"none"}.
func choiceIsNone(choice []byte) bool {
	if !isObject(choice) {
		return false
	}
	it := members(choice)
	for k, v, ok := it.next(); ok; k, v, ok = it.next() {
		if string(k) == "type" {
			return strEq(v, "none")
		}
	}
	return false
}

// toolDef holds the raw fields of one Anthropic tool definition.
type toolDef struct{ name, desc, schema, typ []byte }

// toolFields reads the fields of the tool definition v (an object). A null
// input_schema or type is left nil, as if absent: SDKs may send an unset
// optional field as null.
func (t *translator) toolFields(v []byte) toolDef {
	var d toolDef
	ti := indexed(v, t.ix)
	for k, f, ok := ti.next(); ok; k, f, ok = ti.next() {
		switch string(k) {
		case "name":
			d.name = f
		case "description":
			d.desc = f
		case "input_schema":
			if string(f) != "null" {
				d.schema = f
			}
		case "type":
			if string(f) != "null" {
				d.typ = f
			}
		}
	}
	return d
}

// custom reports whether the tool is sent as the client defined it: it
// has an input_schema, or no type, or type "custom". Other tools are
// Anthropic-defined client tools or server tools.
func (d *toolDef) custom() bool {
	return d.schema != nil || d.typ == nil || strEq(d.typ, "custom")
}

// toolSent is what became of a tool that tool_choice names.
type toolSent int

const (
	toolMissing  toolSent = iota // no tool of that name
	toolUpstream                 // sent upstream (custom or client tool)
	toolServer                   // a server tool, not sent
)

// findTool returns what became of the tool named name (a raw JSON string)
// in tools, and its definition. A tool sent upstream wins over a server
// tool of the same name (dropped, it does not make the name a duplicate).
func (t *translator) findTool(tools, name []byte) (toolSent, toolDef) {
	want := unquote(name)
	sent, found := toolMissing, toolDef{}
	it := indexed(tools, t.ix)
	for _, v, ok := it.next(); ok; _, v, ok = it.next() {
		if d := t.toolFields(v); isObject(v) && unquote(d.name) == want {
			if d.custom() || lookupClientTool(d.typ) != nil {
				return toolUpstream, d
			}
			if sent == toolMissing {
				sent, found = toolServer, d
			}
		}
	}
	return sent, found
}

// appendToolChoice maps tool_choice auto/any/tool/none and
// disable_parallel_tool_use. A choice naming a server tool is refused (the
// request depends on a tool the upstream cannot run); one naming no tool of
// the request becomes "auto": the upstream would reject the request, and
// the model can still answer.
func (t *translator) appendToolChoice(dst, choice, tools []byte, log *zerolog.Logger) ([]byte, error) {
	if !isObject(choice) {
		return dst, nil
	}
	var typ, name []byte
	noParallel := false
	it := members(choice)
	for k, v, ok := it.next(); ok; k, v, ok = it.next() {
		switch string(k) {
		case "type":
			typ = v
		case "name":
			name = v
		case "disable_parallel_tool_use":
			noParallel = string(v) == "true"
		}
	}
	switch {
	case strEq(typ, "auto"):
		dst = append(dst, `,"tool_choice":"auto"`...)
	case strEq(typ, "any"):
		dst = append(dst, `,"tool_choice":"required"`...)
	case strEq(typ, "none"):
		dst = append(dst, `,"tool_choice":"none"`...)
	case strEq(typ, "tool") && isString(name):
		switch sent, d := t.findTool(tools, name); sent {
		case toolServer:
			return dst, &RequestError{Field: "tool_choice", Message: "names a tool the request depends on: " + serverToolMessage(&d)}
		case toolMissing:
			if log != nil {
				log.Debug().Str("tool", unquote(name)).Msg("tool_choice names a tool that is not in the request; using auto")
			}
			dst = append(dst, `,"tool_choice":"auto"`...)
		default:
			dst = append(dst, `,"tool_choice":{"type":"function","function":{"name":`...)
			dst = t.appendToolName(dst, name)
			dst = append(dst, "}}"...)
		}
	}
	if noParallel {
		dst = append(dst, `,"parallel_tool_calls":false`...)
	}
	return dst, nil
}
