package toopenai

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/tidwall/gjson"
)

// translateTools translates a one-message request with the given tools
// (and extra top-level fields) and returns the upstream body.
func translateTools(t *testing.T, tools, extra string, o *Options) ([]byte, Info, error) {
	t.Helper()
	if o == nil {
		m, err := NewModels(ModelsConfig{Big: "gpt-4o"})
		if err != nil {
			t.Fatal(err)
		}
		o = &Options{Models: m}
	}
	body := `{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}],"tools":` + tools
	if extra != "" {
		body += "," + extra
	}
	out, info, err := Translate(nil, []byte(body+"}"), o)
	if err == nil && !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	return out, info, err
}

// keys returns the sorted member names of a JSON object.
func keys(r gjson.Result) []string {
	var ks []string
	r.ForEach(func(k, _ gjson.Result) bool { ks = append(ks, k.Str); return true })
	slices.Sort(ks)
	return ks
}

// strs returns a JSON array of strings as a slice.
func strs(r gjson.Result) []string {
	var s []string
	for _, v := range r.Array() {
		s = append(s, v.Str)
	}
	return s
}

// TestClientTools: each Anthropic-defined client tool version is sent as a
// function under the client's name with the schema Anthropic documents for
// that version: its properties, its command or action enum and its
// required list. A version ccproxy does not know gets the newest known one
// not newer than it (a future version the newest of its family).
func TestClientTools(t *testing.T) {
	teNew := []string{"file_text", "insert_line", "new_str", "old_str", "path", "view_range"}
	teCmds := []string{"view", "create", "str_replace", "insert"}
	teUndo := append(slices.Clone(teCmds), "undo_edit")
	c1022 := []string{"key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click", "double_click", "screenshot", "cursor_position"}
	c0124 := []string{"key", "hold_key", "type", "cursor_position", "mouse_move", "left_mouse_down", "left_mouse_up", "left_click", "left_click_drag", "right_click", "middle_click", "double_click", "triple_click", "scroll", "wait", "screenshot"}
	c0124Props := []string{"coordinate", "duration", "scroll_amount", "scroll_direction", "start_coordinate", "text"}
	memProps := []string{"file_text", "insert_line", "insert_text", "new_path", "new_str", "old_path", "old_str", "path", "view_range"}
	tests := []struct {
		typ, name string
		enumKey   string   // "command" or "action"
		enum      []string // the enum of enumKey
		props     []string // the other properties
		required  []string
	}{
		{"text_editor_20250728", "str_replace_based_edit_tool", "command", teCmds, teNew, []string{"command", "path"}},
		{"text_editor_20250429", "str_replace_based_edit_tool", "command", teCmds, teNew, []string{"command", "path"}},
		{"text_editor_20250124", "str_replace_editor", "command", teUndo, teNew, []string{"command", "path"}},
		{"text_editor_20241022", "str_replace_editor", "command", teUndo, teNew, []string{"command", "path"}},
		{"text_editor_20260101", "str_replace_based_edit_tool", "command", teCmds, teNew, []string{"command", "path"}}, // future: newest
		{"text_editor_20250301", "str_replace_editor", "command", teUndo, teNew, []string{"command", "path"}},          // between: 20250124's
		{"bash_20250124", "bash", "", nil, []string{"command", "restart"}, nil},
		{"bash_20241022", "bash", "", nil, []string{"command", "restart"}, nil},
		{"bash_20260101", "bash", "", nil, []string{"command", "restart"}, nil},
		{"computer_20241022", "computer", "action", c1022, []string{"coordinate", "text"}, []string{"action"}},
		{"computer_20250124", "computer", "action", c0124, c0124Props, []string{"action"}},
		{"computer_20251124", "computer", "action", c0124, c0124Props, []string{"action"}},
		{"computer_20270101", "computer", "action", c0124, c0124Props, []string{"action"}},
		{"memory_20250818", "memory", "command", []string{"view", "create", "str_replace", "insert", "delete", "rename"}, memProps, []string{"command"}},
		{"memory_20990101", "memory", "command", []string{"view", "create", "str_replace", "insert", "delete", "rename"}, memProps, []string{"command"}},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			tools := `[{"type":"` + tc.typ + `","name":"` + tc.name + `","max_characters":500,"display_width_px":1024,"display_height_px":768,"cache_control":{"type":"ephemeral"}}]`
			out, info, err := translateTools(t, tools, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			fns := gjson.GetBytes(out, "tools").Array()
			if len(fns) != 1 || fns[0].Get("type").Str != "function" {
				t.Fatalf("tools: %s", gjson.GetBytes(out, "tools").Raw)
			}
			fn := fns[0].Get("function")
			if fn.Get("name").Str != tc.name || !strings.HasPrefix(fn.Get("description").Str, "Anthropic's ") {
				t.Fatalf("function: %s", fn.Raw)
			}
			if got := keys(fn); !slices.Equal(got, []string{"description", "name", "parameters"}) {
				t.Errorf("function members %v", got)
			}
			p := fn.Get("parameters")
			if p.Get("type").Str != "object" {
				t.Errorf("parameters type %q", p.Get("type").Str)
			}
			want := slices.Clone(tc.props)
			if tc.enumKey != "" {
				want = append(want, tc.enumKey)
				if got := strs(p.Get("properties." + tc.enumKey + ".enum")); !slices.Equal(got, tc.enum) {
					t.Errorf("%s enum %v, want %v", tc.enumKey, got, tc.enum)
				}
			}
			slices.Sort(want)
			if got := keys(p.Get("properties")); !slices.Equal(got, want) {
				t.Errorf("properties %v, want %v", got, want)
			}
			if got := strs(p.Get("required")); !slices.Equal(got, tc.required) {
				t.Errorf("required %v, want %v", got, tc.required)
			}
			if info.InputTokensEstimate < len(p.Raw)/4 {
				t.Errorf("estimate %d ignores the %d-byte schema", info.InputTokensEstimate, len(p.Raw))
			}
		})
	}
}

// TestClientToolSchemasValid: every version's schema is a JSON object and
// its description the inside of a JSON string, whatever the definition
// options (display, zoom).
func TestClientToolSchemasValid(t *testing.T) {
	for _, family := range []string{"text_editor", "bash", "computer", "memory"} {
		for _, v := range clientToolFamily([]byte(family)) {
			for _, s := range []string{v.params, v.zoomParams} {
				if s != "" && (!json.Valid([]byte(s)) || s[0] != '{') {
					t.Errorf("%s_%s: invalid schema %s", family, v.version, s)
				}
			}
			var d string
			if err := json.Unmarshal([]byte(`"`+v.desc+`"`), &d); err != nil || d == "" {
				t.Errorf("%s_%s: description not a JSON string: %v", family, v.version, err)
			}
		}
	}
}

// TestComputerToolOptions: the display size goes into the description;
// computer_20251124 offers zoom (with region) only when the definition
// enables it.
func TestComputerToolOptions(t *testing.T) {
	out, _, err := translateTools(t, `[{"type":"computer_20251124","name":"computer","display_width_px":1280,"display_height_px":800,"display_number":1,"enable_zoom":true}]`, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	fn := gjson.GetBytes(out, "tools.0.function")
	if !strings.HasSuffix(fn.Get("description").Str, " The display is 1280x800 pixels (X11 display :1).") {
		t.Errorf("description %q", fn.Get("description").Str)
	}
	if !slices.Contains(strs(fn.Get("parameters.properties.action.enum")), "zoom") || !fn.Get("parameters.properties.region").Exists() {
		t.Errorf("zoom enabled but not offered: %s", fn.Get("parameters").Raw)
	}
	out, _, err = translateTools(t, `[{"type":"computer_20251124","name":"computer","display_width_px":1280,"display_height_px":800}]`, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	fn = gjson.GetBytes(out, "tools.0.function")
	if slices.Contains(strs(fn.Get("parameters.properties.action.enum")), "zoom") || fn.Get("parameters.properties.region").Exists() {
		t.Errorf("zoom offered without enable_zoom: %s", fn.Get("parameters").Raw)
	}
	if !strings.HasSuffix(fn.Get("description").Str, " The display is 1280x800 pixels.") {
		t.Errorf("description %q", fn.Get("description").Str)
	}
}

// TestClientToolChoice: tool_choice naming an emulated tool maps to its
// function; an emulated tool with a name over OpenAI's 64 characters is
// shortened like any other, in tools and tool_choice, and mapped back.
func TestClientToolChoice(t *testing.T) {
	out, _, err := translateTools(t, `[{"type":"text_editor_20250728","name":"str_replace_based_edit_tool"},{"name":"Read","input_schema":{"type":"object"}}]`,
		`"tool_choice":{"type":"tool","name":"str_replace_based_edit_tool"}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := gjson.GetBytes(out, "tool_choice").Raw; got != `{"type":"function","function":{"name":"str_replace_based_edit_tool"}}` {
		t.Errorf("tool_choice %s", got)
	}
	long := strings.Repeat("b", 70)
	out, info, err := translateTools(t, `[{"type":"bash_20250124","name":"`+long+`"}]`, `"tool_choice":{"type":"tool","name":"`+long+`"}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	alias := gjson.GetBytes(out, "tools.0.function.name").Str
	if len(alias) != maxToolName || info.ToolNames[alias] != long || gjson.GetBytes(out, "tool_choice.function.name").Str != alias {
		t.Errorf("alias %q, names %v, choice %s", alias, info.ToolNames, gjson.GetBytes(out, "tool_choice").Raw)
	}
}

// TestServerToolsRefused: a request that depends on a server tool (all its
// tools are server tools, or tool_choice names one) is refused with a
// RequestError naming the tool and its type and saying only Anthropic's API
// runs it. Unknown typed tools without a schema count as server tools.
func TestServerToolsRefused(t *testing.T) {
	// why is what the message says of the type: a server tool, or one
	// ccproxy does not know (which it must not call a server tool).
	server, unknown := "runs only on Anthropic's API", "ccproxy does not know"
	tests := []struct{ name, tools, extra, field, tool, typ, why string }{
		{"only web_search", `[{"type":"web_search_20250305","name":"web_search","max_uses":5}]`, "", "tools.0", "web_search", "web_search_20250305", server},
		{"only server tools, choice any", `[{"type":"web_fetch_20250910","name":"web_fetch"},{"type":"code_execution_20250825","name":"code_execution"}]`,
			`"tool_choice":{"type":"any"}`, "tools.0", "web_fetch", "web_fetch_20250910", server},
		{"unknown type", `[{"type":"hologram_20270101","name":"holo"}]`, "", "tools.0", "holo", "hologram_20270101", unknown},
		{"toolset of a known prefix", `[{"type":"computer_toolset_20260801","name":"computer"}]`, "", "tools.0", "computer", "computer_toolset_20260801", unknown},
		{"choice names a server tool", `[{"name":"Read","input_schema":{"type":"object"}},{"type":"tool_search_tool_regex_20251119","name":"tool_search_tool_regex"}]`,
			`"tool_choice":{"type":"tool","name":"tool_search_tool_regex"}`, "tool_choice", "tool_search_tool_regex", "tool_search_tool_regex_20251119", server},
		{"server tool after others", `[{"name":"Read","input_schema":{"type":"object"}},{"type":"bash_20250124","name":"bash"},{"type":"web_search_20260209","name":"ws"}]`,
			`"tool_choice":{"type":"tool","name":"ws"}`, "tool_choice", "ws", "web_search_20260209", server},
		{"server tools at 1 and 2, only kind", `[{"type":"web_fetch_20250910","name":"wf"},{"type":"web_search_20250305","name":"ws"}]`,
			"", "tools.0", "wf", "web_fetch_20250910", server},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("keep")
			m, _ := NewModels(ModelsConfig{})
			body := `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"hi"}],"tools":` + tc.tools
			if tc.extra != "" {
				body += "," + tc.extra
			}
			out, _, err := Translate(dst, []byte(body+"}"), &Options{Models: m})
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("err %v, out %s", err, out)
			}
			if string(out) != "keep" {
				t.Errorf("dst changed: %q", out)
			}
			if re.Field != tc.field || !strings.Contains(re.Message, `"`+tc.tool+`"`) || !strings.Contains(re.Message, `"`+tc.typ+`"`) ||
				!strings.Contains(re.Message, tc.why) || !strings.Contains(re.Message, "upstream") ||
				(tc.why == unknown && strings.Contains(re.Message, "server tool")) {
				t.Errorf("error %q", err)
			}
		})
	}
}

// TestServerToolsDropped: server tools beside other tools are dropped and
// reported in Info.DroppedTools (tool and type, in order) for the caller to
// log with its request id; Translate itself logs nothing. The rest is sent
// and tool_choice still maps. Nothing is reported when no tool is dropped.
func TestServerToolsDropped(t *testing.T) {
	var logs bytes.Buffer
	m, _ := NewModels(ModelsConfig{})
	o := &Options{Models: m, Logger: zerolog.New(&logs)}
	out, info, err := translateTools(t, `[{"type":"web_search_20250305","name":"web_search"},{"name":"Read","input_schema":{"type":"object"}},`+
		`{"type":"text_editor_20250728","name":"str_replace_based_edit_tool"},{"type":"web_fetch_20250910","name":"web_fetch"}]`,
		`"tool_choice":{"type":"tool","name":"Read"}`, o)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fn := range gjson.GetBytes(out, "tools.#.function.name").Array() {
		names = append(names, fn.Str)
	}
	if !slices.Equal(names, []string{"Read", "str_replace_based_edit_tool"}) || gjson.GetBytes(out, "tool_choice.function.name").Str != "Read" {
		t.Fatalf("sent %v, choice %s", names, gjson.GetBytes(out, "tool_choice").Raw)
	}
	if want := []DroppedTool{{"web_search", "web_search_20250305"}, {"web_fetch", "web_fetch_20250910"}}; !slices.Equal(info.DroppedTools, want) {
		t.Errorf("DroppedTools %v, want %v", info.DroppedTools, want)
	}
	if logs.Len() != 0 {
		t.Errorf("Translate logged:\n%s", logs.String())
	}

	// tool_choice none with only server tools: nothing is sent, all reported.
	_, info, err = translateTools(t, `[{"type":"web_search_20250305","name":"web_search"}]`, `"tool_choice":{"type":"none"}`, o)
	if err != nil || !slices.Equal(info.DroppedTools, []DroppedTool{{"web_search", "web_search_20250305"}}) {
		t.Errorf("choice none: err %v, DroppedTools %v", err, info.DroppedTools)
	}

	_, info, err = translateTools(t, `[{"type":"bash_20250124","name":"bash"},{"name":"Read","input_schema":{"type":"object"}}]`, "", o)
	if err != nil || info.DroppedTools != nil || logs.Len() != 0 {
		t.Errorf("err %v, DroppedTools %v, logs %s", err, info.DroppedTools, logs.String())
	}
}

// TestClientToolExported: ClientTool gives what Translate sends, and
// nothing for server or unknown types.
func TestClientToolExported(t *testing.T) {
	out, _, err := translateTools(t, `[{"type":"text_editor_20250124","name":"str_replace_editor"}]`, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	desc, params, ok := ClientTool("text_editor_20250124")
	var d string
	json.Unmarshal([]byte(`"`+desc+`"`), &d)
	if !ok || gjson.GetBytes(out, "tools.0.function.parameters").Raw != params || gjson.GetBytes(out, "tools.0.function.description").Str != d {
		t.Errorf("ClientTool: %v %q %s", ok, desc, params)
	}
	for _, typ := range []string{"web_search_20250305", "custom", "bash", "text_editor_2025072"} {
		if _, _, ok := ClientTool(typ); ok {
			t.Errorf("%s: ok", typ)
		}
	}
}

// TestComputerParamsPerVersion: each computer version's parameter
// descriptions say what that version's executor accepts. In
// computer_20241022 the clicks act at the cursor (coordinate only for
// mouse_move and left_click_drag: Anthropic's reference executor rejects it
// on a click), there is no scroll and no hold_key; from computer_20250124
// the clicks and scroll take a coordinate and `text` also names the
// modifier keys held while clicking or scrolling.
func TestComputerParamsPerVersion(t *testing.T) {
	props := func(typ string) gjson.Result {
		t.Helper()
		out, _, err := translateTools(t, `[{"type":"`+typ+`","name":"computer","display_width_px":1024,"display_height_px":768}]`, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return gjson.GetBytes(out, "tools.0.function.parameters.properties")
	}
	old := props("computer_20241022")
	for _, p := range []string{"coordinate", "text"} {
		d := old.Get(p + ".description").Str
		for _, bad := range []string{"scroll", "hold_key", "click actions", "hold down"} {
			if strings.Contains(d, bad) {
				t.Errorf("computer_20241022 %s mentions %q, which that version lacks: %q", p, bad, d)
			}
		}
	}
	if d := old.Get("coordinate.description").Str; !strings.Contains(d, "`mouse_move`") || !strings.Contains(d, "`left_click_drag`") {
		t.Errorf("computer_20241022 coordinate: %q", d)
	}
	for _, typ := range []string{"computer_20250124", "computer_20251124"} {
		p := props(typ)
		if d := p.Get("text.description").Str; !strings.Contains(d, "click") || !strings.Contains(d, "scroll") {
			t.Errorf("%s text does not say it holds keys while clicking or scrolling: %q", typ, d)
		}
		if d := p.Get("coordinate.description").Str; !strings.Contains(d, "scroll") {
			t.Errorf("%s coordinate: %q", typ, d)
		}
	}
}

// TestToolNullFields: a null type or input_schema is an absent one (the
// SDKs may send unset optional fields as null): {"type":null} without a
// schema is a custom tool, not a server tool of type "", and a client tool
// with "input_schema":null is still emulated. A type that is neither a
// string nor null is refused at its own path.
func TestToolNullFields(t *testing.T) {
	out, _, err := translateTools(t, `[{"type":null,"name":"Note","description":"d"}]`, "", nil)
	if err != nil || gjson.GetBytes(out, "tools.0.function.name").Str != "Note" ||
		gjson.GetBytes(out, "tools.0.function.parameters").Raw != `{"type":"object","properties":{}}` {
		t.Errorf("type null: err %v, %s", err, gjson.GetBytes(out, "tools").Raw)
	}
	out, _, err = translateTools(t, `[{"type":"bash_20250124","name":"bash","input_schema":null}]`, "", nil)
	if err != nil || !gjson.GetBytes(out, "tools.0.function.parameters.properties.command").Exists() {
		t.Errorf("bash with a null schema: err %v, %s", err, gjson.GetBytes(out, "tools").Raw)
	}
	_, _, err = translateTools(t, `[{"name":"Read","input_schema":{"type":"object"}},{"type":5,"name":"n"}]`, "", nil)
	var re *RequestError
	if !errors.As(err, &re) || re.Field != "tools.1.type" {
		t.Errorf("type 5: %v", err)
	}
}

// TestViewRangeIsAPair: view_range is [start_line, end_line] (Anthropic's
// docs: an array of two integers) in every text editor version and the
// memory tool, so the schema bounds it to two integers.
func TestViewRangeIsAPair(t *testing.T) {
	for _, typ := range []string{"text_editor_20241022", "text_editor_20250124", "text_editor_20250429", "text_editor_20250728", "memory_20250818"} {
		_, params, _ := ClientTool(typ)
		vr := gjson.Get(params, "properties.view_range")
		if vr.Get("items.type").Str != "integer" || vr.Get("minItems").Int() != 2 || vr.Get("maxItems").Int() != 2 {
			t.Errorf("%s view_range %s", typ, vr.Raw)
		}
	}
}
