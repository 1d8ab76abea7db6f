package toopenai

import (
	"strconv"

	"github.com/rs/zerolog"
)

// appendTools writes tools, tool_choice and parallel_tool_calls. Server
// tools (a type other than "custom" and no input_schema) are dropped with a
// debug log; when no tool remains, none of the three fields is sent. Names
// too long for OpenAI are shortened (see appendToolName) and recorded in
// t.toolNames.
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
	it := indexed(tools, t.ix)
	for _, v, ok := it.next(); ok; _, v, ok = it.next() {
		if !isObject(v) {
			return dst[:mark], &RequestError{Field: "tools." + strconv.Itoa(idx), Message: "must be an object"}
		}
		tf := t.toolFields(v)
		name, desc, schema, typ := tf.name, tf.desc, tf.schema, tf.typ
		if !isString(name) {
			return dst[:mark], &RequestError{Field: "tools." + strconv.Itoa(idx) + ".name", Message: "must be a string"}
		}
		idx++
		if !tf.sent() {
			if log != nil {
				log.Debug().Str("tool", unquote(name)).Str("type", unquote(typ)).Msg("dropped server tool")
			}
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, `{"type":"function","function":{"name":`...)
		dst = appendToolName(dst, name, t.toolNames)
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
		return dst[:mark], nil
	}
	dst = append(dst, ']')
	return t.appendToolChoice(dst, choice, tools, log), nil
}

// toolDef holds the raw fields of one Anthropic tool definition.
type toolDef struct{ name, desc, schema, typ []byte }

// toolFields reads the fields of the tool definition v (an object).
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
			d.schema = f
		case "type":
			d.typ = f
		}
	}
	return d
}

// sent reports whether the tool goes upstream: server tools (a type other
// than "custom" and no input_schema) are dropped.
func (d *toolDef) sent() bool {
	return d.schema != nil || d.typ == nil || strEq(d.typ, "custom")
}

// sentTool reports whether tools holds a tool named name (a raw JSON
// string) that appendTools sent upstream (not a dropped server tool).
func (t *translator) sentTool(tools, name []byte) bool {
	want := unquote(name)
	it := indexed(tools, t.ix)
	for _, v, ok := it.next(); ok; _, v, ok = it.next() {
		if d := t.toolFields(v); isObject(v) && unquote(d.name) == want {
			return d.sent()
		}
	}
	return false
}

// appendToolChoice maps tool_choice auto/any/tool/none and
// disable_parallel_tool_use. A choice naming a tool that was not sent (a
// dropped server tool, or none of that name) becomes "auto": the upstream
// would reject the request, and the model can still answer.
func (t *translator) appendToolChoice(dst, choice, tools []byte, log *zerolog.Logger) []byte {
	if !isObject(choice) {
		return dst
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
	case strEq(typ, "tool") && isString(name) && !t.sentTool(tools, name):
		if log != nil {
			log.Debug().Str("tool", unquote(name)).Msg("tool_choice names a tool that was not sent upstream; using auto")
		}
		dst = append(dst, `,"tool_choice":"auto"`...)
	case strEq(typ, "tool") && isString(name):
		dst = append(dst, `,"tool_choice":{"type":"function","function":{"name":`...)
		dst = appendToolName(dst, name, t.toolNames)
		dst = append(dst, "}}"...)
	}
	if noParallel {
		dst = append(dst, `,"parallel_tool_calls":false`...)
	}
	return dst
}
