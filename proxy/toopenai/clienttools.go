package toopenai

import "bytes"

// Anthropic-defined client tools: the client runs them, Anthropic supplies
// only the schema (its models know the tools by training). A definition
// carries a type and a name but no input_schema, e.g.
// {"type":"text_editor_20250728","name":"str_replace_based_edit_tool"}.
// They are emulated exactly: sent upstream as an OpenAI function under the
// client's name with the input schema Anthropic documents for that version
// and a description saying what the tool does (other models need it). The
// model's call comes back as a tool_use of that name with the arguments as
// input, which is what the client runs.
//
// Sources (schemas and version differences):
//   - text editor: https://docs.claude.com/en/docs/agents-and-tools/tool-use/text-editor-tool
//     (text_editor_20250728 and _20250429 are named str_replace_based_edit_tool
//     and have no undo_edit; _20250124 and _20241022 are named
//     str_replace_editor and have it; max_characters is an option of the
//     definition that the client applies when it answers view, not a
//     parameter of the call)
//   - bash: https://docs.claude.com/en/docs/agents-and-tools/tool-use/bash-tool
//     (command, or restart: true; the same for _20241022 and _20250124)
//   - computer use: https://docs.claude.com/en/docs/agents-and-tools/tool-use/computer-use-tool
//     (_20241022's ten actions, its clicks acting at the cursor, coordinate
//     only for mouse_move and left_click_drag, text only for type and key;
//     _20250124 adds hold_key, left_mouse_down/up,
//     triple_click, scroll, wait and the duration, scroll_* and
//     start_coordinate parameters, a coordinate for the clicks and text as
//     keys held while clicking or scrolling; _20251124 adds zoom with region when the
//     definition sets enable_zoom), cross-checked with the Vercel AI SDK's
//     @ai-sdk/anthropic src/tool/computer_20241022.ts and computer_20250124.ts
//   - memory: https://docs.claude.com/en/docs/agents-and-tools/tool-use/memory-tool
//     (view, create, str_replace, insert, delete, rename under /memories),
//     cross-checked with @ai-sdk/anthropic src/tool/memory_20250818.ts

// clientTool is one version of an Anthropic-defined client tool.
type clientTool struct {
	// version is the date suffix of the type, e.g. "20250728".
	version string
	// desc is the function description: the inside of a JSON string,
	// already escaped.
	desc string
	// params is the input schema (a JSON object).
	params string
	// zoomParams, when set, replaces params for a definition with
	// enable_zoom: true (computer_20251124).
	zoomParams string
	// computer marks the computer tool, whose description gets the
	// definition's display size.
	computer bool
}

// clientToolFamily returns the known versions of the client tool family
// (the type without its date suffix), oldest first, or nil.
func clientToolFamily(family []byte) []clientTool {
	switch string(family) {
	case "text_editor":
		return textEditorVersions
	case "bash":
		return bashVersions
	case "computer":
		return computerVersions
	case "memory":
		return memoryVersions
	}
	return nil
}

// lookupClientTool returns the client tool version for typ (a raw JSON
// string such as "bash_20250124"), or nil when typ is no client tool (a
// server tool, or a type ccproxy does not know). A version of a known
// family that ccproxy does not know gets the newest known version not
// newer than it, so a future version gets the newest schema; one older
// than every known version gets the oldest.
func lookupClientTool(typ []byte) *clientTool {
	if !isString(typ) {
		return nil
	}
	in := inner(typ)
	us := bytes.LastIndexByte(in, '_')
	if us < 0 || !isDate(in[us+1:]) {
		return nil
	}
	versions := clientToolFamily(in[:us])
	if versions == nil {
		return nil
	}
	version := string(in[us+1:])
	pick := &versions[0]
	for i := range versions {
		if versions[i].version <= version { // same length: string order is date order
			pick = &versions[i]
		}
	}
	return pick
}

// isDate reports whether b is eight ASCII digits (YYYYMMDD).
func isDate(b []byte) bool {
	if len(b) != 8 {
		return false
	}
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// Text editor. The property descriptions are Anthropic's own wording of the
// schema its models were trained on.
const (
	textEditorDesc = "Anthropic's text editor tool, for viewing, creating and editing files. " +
		"`view` shows a file's contents with line numbers (like `cat -n`), or lists a directory's non-hidden files and directories up to 2 levels deep. " +
		"`create` writes a new file with `file_text`; it cannot be used if the path already exists as a file. " +
		"`str_replace` replaces `old_str` with `new_str`: `old_str` must match exactly one place of the file, whitespace included, so include enough context to make it unique. " +
		"`insert` inserts `new_str` after line `insert_line` (0 inserts at the start of the file). " +
		"Long outputs may be truncated. Paths are absolute."
	textEditorUndoDesc = textEditorDesc + " `undo_edit` reverts the last edit made to the file at `path`."

	textEditorProps = `"path":{"type":"string","description":"Absolute path to file or directory, e.g. ` + "`/repo/file.py` or `/repo`" + `."},` +
		`"file_text":{"type":"string","description":"Required parameter of ` + "`create`" + ` command, with the content of the file to be created."},` +
		`"insert_line":{"type":"integer","description":"Required parameter of ` + "`insert` command. The `new_str` will be inserted AFTER the line `insert_line` of `path`" + `."},` +
		`"new_str":{"type":"string","description":"Optional parameter of ` + "`str_replace`" + ` command containing the new string (if not given, no string will be added). Required parameter of ` + "`insert`" + ` command containing the string to insert."},` +
		`"old_str":{"type":"string","description":"Required parameter of ` + "`str_replace` command containing the string in `path`" + ` to replace."},` +
		`"view_range":{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":2,"description":"Optional parameter of ` + "`view` command when `path`" + ` points to a file. If none is given, the full file is shown. If provided, the file will be shown in the indicated line number range, e.g. [11, 12] will show lines 11 and 12. Indexing at 1 to start. Setting ` + "`[start_line, -1]` shows all lines from `start_line`" + ` to the end of the file."}}`

	textEditorParams = `{"type":"object","properties":{"command":{"type":"string","enum":["view","create","str_replace","insert"],` +
		`"description":"The commands to run. Allowed options are: ` + "`view`, `create`, `str_replace`, `insert`" + `."},` +
		textEditorProps + `,"required":["command","path"]}`
	textEditorUndoParams = `{"type":"object","properties":{"command":{"type":"string","enum":["view","create","str_replace","insert","undo_edit"],` +
		`"description":"The commands to run. Allowed options are: ` + "`view`, `create`, `str_replace`, `insert`, `undo_edit`" + `."},` +
		textEditorProps + `,"required":["command","path"]}`
)

var textEditorVersions = []clientTool{
	{version: "20241022", desc: textEditorUndoDesc, params: textEditorUndoParams},
	{version: "20250124", desc: textEditorUndoDesc, params: textEditorUndoParams},
	{version: "20250429", desc: textEditorDesc, params: textEditorParams},
	{version: "20250728", desc: textEditorDesc, params: textEditorParams},
}

// Bash.
const (
	bashDesc = "Anthropic's bash tool: runs a command in a persistent bash session, so state such as the working directory and environment variables carries over between calls. " +
		"Set `restart` to true (and no `command`) to start a new session. Avoid commands that wait for interactive input; long outputs may be truncated."
	bashParams = `{"type":"object","properties":{` +
		`"command":{"type":"string","description":"The bash command to run. Required unless the tool is being restarted."},` +
		`"restart":{"type":"boolean","description":"Specifying true will restart this tool. Otherwise, leave this unspecified."}}}`
)

var bashVersions = []clientTool{
	{version: "20241022", desc: bashDesc, params: bashParams},
	{version: "20250124", desc: bashDesc, params: bashParams},
}

// Computer use. appendClientTool adds the display size to the description.
const (
	computerDesc = "Anthropic's computer use tool: controls a computer's screen, mouse and keyboard. " +
		"`screenshot` returns the screen; positions are `coordinate` [x, y] in screen pixels from the top left corner; " +
		"`key` presses a key or combination in xdotool syntax (e.g. `Return`, `ctrl+s`); `type` types `text`. " +
		"Take a screenshot to check the result of an action."

	// computer_20241022: clicks act at the cursor; only mouse_move and
	// left_click_drag take a coordinate, and text only type and key.
	computer20241022Coordinate = `"coordinate":{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":2,` +
		`"description":"(x, y): the x (pixels from the left edge) and y (pixels from the top edge) coordinates to move the mouse to. Required only by ` + "`mouse_move` and `left_click_drag`" + `."}`
	computer20241022Text = `"text":{"type":"string","description":"Required only by ` + "`type` and `key`" + `: the text to type, or the key(s) in xdotool syntax."}`

	// From computer_20250124: the clicks and scroll act at an optional
	// coordinate, and text also names keys held while clicking or scrolling.
	computerCoordinate = `"coordinate":{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":2,` +
		`"description":"(x, y): the x (pixels from the left edge) and y (pixels from the top edge) coordinates. Required by ` + "`mouse_move` and `left_click_drag`" + `; optional for the click actions and ` + "`scroll`" + ` (at the cursor without it)."}`
	computerText = `"text":{"type":"string","description":"Required by ` + "`type`, `key`" + ` and ` + "`hold_key`" + `: the text to type, or the key(s) in xdotool syntax. ` +
		`Can also be given to the click actions and ` + "`scroll`" + ` to hold down keys (e.g. ` + "`shift`" + `) while clicking or scrolling."}`

	computer20241022Params = `{"type":"object","properties":{"action":{"type":"string",` +
		`"enum":["key","type","mouse_move","left_click","left_click_drag","right_click","middle_click","double_click","screenshot","cursor_position"],` +
		`"description":"The action to perform."},` + computer20241022Coordinate + `,` + computer20241022Text + `},"required":["action"]}`

	computer20250124Actions = `"key","hold_key","type","cursor_position","mouse_move","left_mouse_down","left_mouse_up","left_click","left_click_drag","right_click","middle_click","double_click","triple_click","scroll","wait","screenshot"`
	computer20250124Props   = computerCoordinate + `,` + computerText + `,` +
		`"duration":{"type":"number","description":"Seconds to hold the key down for (` + "`hold_key`" + `) or to wait (` + "`wait`" + `)."},` +
		`"scroll_amount":{"type":"integer","description":"The number of scroll wheel clicks. Required by ` + "`scroll`" + `."},` +
		`"scroll_direction":{"type":"string","enum":["up","down","left","right"],"description":"The direction to scroll. Required by ` + "`scroll`" + `."},` +
		`"start_coordinate":{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":2,"description":"(x, y): where ` + "`left_click_drag`" + ` starts."}`
	computer20250124Params = `{"type":"object","properties":{"action":{"type":"string","enum":[` + computer20250124Actions + `],"description":"The action to perform."},` +
		computer20250124Props + `},"required":["action"]}`
	computer20251124ZoomParams = `{"type":"object","properties":{"action":{"type":"string","enum":[` + computer20250124Actions + `,"zoom"],"description":"The action to perform."},` +
		computer20250124Props + `,` +
		`"region":{"type":"array","items":{"type":"integer"},"minItems":4,"maxItems":4,"description":"[x1, y1, x2, y2]: the screen region to view at full resolution. Required by ` + "`zoom`" + `."}` +
		`},"required":["action"]}`
)

var computerVersions = []clientTool{
	{version: "20241022", desc: computerDesc, params: computer20241022Params, computer: true},
	{version: "20250124", desc: computerDesc, params: computer20250124Params, computer: true},
	{version: "20251124", desc: computerDesc, params: computer20250124Params, zoomParams: computer20251124ZoomParams, computer: true},
}

// Memory.
const (
	memoryDesc = "Anthropic's memory tool: a directory of files under /memories that persists across conversations. " +
		"View it before starting a task, and record progress, decisions and what you learn as you work, since the conversation may be cut off. " +
		"Commands: `view` (a directory listing, or a file with line numbers), `create`, `str_replace`, `insert`, `delete`, `rename`. Every path starts with /memories."
	memoryParams = `{"type":"object","properties":{` +
		`"command":{"type":"string","enum":["view","create","str_replace","insert","delete","rename"],"description":"The operation to perform."},` +
		`"path":{"type":"string","description":"The file or directory, e.g. /memories/notes.md. Required by every command but ` + "`rename`" + `."},` +
		`"view_range":{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":2,"description":"Optional for ` + "`view`" + ` of a file: [start_line, end_line], 1-indexed; -1 as end_line reads to the end."},` +
		`"file_text":{"type":"string","description":"Required by ` + "`create`" + `: the content of the file."},` +
		`"old_str":{"type":"string","description":"Required by ` + "`str_replace`" + `: the text to replace; it must occur exactly once in the file."},` +
		`"new_str":{"type":"string","description":"Required by ` + "`str_replace`" + `: the replacement text."},` +
		`"insert_line":{"type":"integer","description":"Required by ` + "`insert`" + `: the line after which to insert (0 inserts at the start)."},` +
		`"insert_text":{"type":"string","description":"Required by ` + "`insert`" + `: the text to insert."},` +
		`"old_path":{"type":"string","description":"Required by ` + "`rename`" + `: the current path."},` +
		`"new_path":{"type":"string","description":"Required by ` + "`rename`" + `: the new path."}},"required":["command"]}`
)

var memoryVersions = []clientTool{
	{version: "20250818", desc: memoryDesc, params: memoryParams},
}

// computerOptions holds the computer tool's definition options.
type computerOptions struct {
	width, height, display []byte
	zoom                   bool
}

// appendClientTool appends the function for the client tool ct defined by
// v (an object) under name (a raw JSON string).
func (t *translator) appendClientTool(dst, v, name []byte, ct *clientTool) []byte {
	dst = append(dst, `{"type":"function","function":{"name":`...)
	dst = t.appendToolName(dst, name)
	dst = append(dst, `,"description":"`...)
	dst = append(dst, ct.desc...)
	params := ct.params
	if ct.computer {
		o := t.computerOptions(v)
		if isNumber(o.width) && isNumber(o.height) {
			dst = append(dst, " The display is "...)
			dst = append(dst, o.width...)
			dst = append(dst, 'x')
			dst = append(dst, o.height...)
			dst = append(dst, " pixels"...)
			if isNumber(o.display) {
				dst = append(dst, " (X11 display :"...)
				dst = append(dst, o.display...)
				dst = append(dst, ')')
			}
			dst = append(dst, '.')
		}
		if o.zoom && ct.zoomParams != "" {
			params = ct.zoomParams
		}
	}
	dst = append(dst, `","parameters":`...)
	dst = append(dst, params...)
	t.textBytes += len(ct.desc) + len(params)
	return append(dst, "}}"...)
}

// computerOptions reads the computer tool's options from its definition v.
func (t *translator) computerOptions(v []byte) computerOptions {
	var o computerOptions
	it := indexed(v, t.ix)
	for k, f, ok := it.next(); ok; k, f, ok = it.next() {
		switch string(k) {
		case "display_width_px":
			o.width = f
		case "display_height_px":
			o.height = f
		case "display_number":
			o.display = f
		case "enable_zoom":
			o.zoom = string(f) == "true"
		}
	}
	return o
}

// ClientTool returns the description and input schema (JSON) that
// Translate sends upstream for the Anthropic-defined client tool of type
// typ (e.g. "text_editor_20250728"); ok is false for any other type
// (server tools, custom tools). The description is JSON-escaped text and
// lacks the computer tool's display size. Token counting can count these
// instead of the definition's JSON, as the upstream sees them.
func ClientTool(typ string) (desc, params string, ok bool) {
	ct := lookupClientTool([]byte(`"` + typ + `"`))
	if ct == nil {
		return "", "", false
	}
	return ct.desc, ct.params, true
}
