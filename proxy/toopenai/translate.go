package toopenai

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash/maphash"
	"slices"
	"strconv"
	"sync"

	"github.com/rs/zerolog"

	"github.com/ccproxy/ccproxy/internal/jsonw"
)

// Options configures Translate. A nil *Options means: model names passed
// through unchanged, no reasoning replay, no logging.
type Options struct {
	// Models resolves the requested model and knows upstream capabilities.
	Models *Models
	// ReasoningReplay replays thinking blocks found in the history as the
	// assistant message's reasoning_content (DeepSeek/Kimi style). Off, they
	// are dropped.
	ReasoningReplay bool
	// Logger receives debug logs. The zero value is silent. Dropped server
	// tools are not logged here but reported in Info.DroppedTools, for the
	// caller to log with its request id.
	Logger zerolog.Logger

	// scratch pools Translate's working memory (*scratch). Options may be
	// shared by concurrent calls but must not be copied after first use.
	scratch sync.Pool
}

// scratch is Translate's working memory. It lives on the heap, not in
// Translate's frame: a goroutine's stack grown by one translation stays
// grown (16 KB instead of 8) for the whole stream that follows, and a
// thousand open streams would hold 8 MB more.
type scratch struct {
	spans [256]span
	stack [maxDepth]int32 // slot in spans of each open container
	// names are the tools sent upstream so far, and slots their table by
	// hash, for refusing a duplicate name (see checkUnique), hashed with
	// seed. Kept across uses (up to keepNames), so that they grow once.
	names []sentTool
	slots []int32
	seed  maphash.Seed
}

// Info describes a translated request, for the response side and logs.
type Info struct {
	// Model is the model the client asked for; responses echo it.
	Model string
	// UpstreamModel is the resolved upstream model.
	UpstreamModel string
	// Stream reports whether the client asked for a stream.
	Stream bool
	// Thinking reports whether the client enabled thinking (enabled or
	// adaptive).
	Thinking bool
	// StopSequences are the client's stop sequences (all of them, even when
	// the upstream cannot take them).
	StopSequences []string
	// MaxTokens is the output limit sent upstream.
	MaxTokens int
	// InputTokensEstimate is bytes/4 of the text, tool inputs and tool
	// definitions: a cheap stand-in for message_start, never a tokenizer.
	InputTokensEstimate int
	// ToolNames maps the aliases sent upstream for tool names longer than
	// OpenAI's 64 characters (in tools, tool_choice or earlier tool calls)
	// back to the client's names (nil when no name was shortened).
	ToolNames map[string]string
	// DroppedTools are the server tools left out of the upstream request
	// (web_search and the like, which only Anthropic's API runs), in request
	// order; nil when none was. The caller warns about them.
	DroppedTools []DroppedTool
}

// DroppedTool is a server tool Translate left out of the upstream request.
type DroppedTool struct {
	// Name and Type are the tool's name and type, e.g. "web_search" and
	// "web_search_20250305".
	Name, Type string
}

// maxStop is OpenAI's limit on stop sequences.
const maxStop = 4

// maxUserLen is OpenAI's limit on the user (safety identifier) field.
const maxUserLen = 64

// request holds the raw top-level fields of an Anthropic Messages request.
type request struct {
	model, messages, system, maxTokens, stream, tools, toolChoice, thinking,
	outputConfig, outputFormat, stopSequences, metadata, temperature, topP []byte
}

// translator carries per-request state through the translation.
type translator struct {
	ix        *index
	replay    bool
	reasoning bool   // upstream is a reasoning model
	sysRole   string // "system" or "developer"
	nMsgs     int    // messages written so far
	textBytes int    // for InputTokensEstimate
	// toolNames points at Info.ToolNames: every alias sent upstream (tools,
	// tool_choice, earlier tool calls) maps back to the client's name. A
	// pointer, not the map: escape analysis is field-insensitive, and
	// copying a field of t into the returned Info would move ix to the heap.
	toolNames *map[string]string
	// dropped points at Info.DroppedTools, for the same reason.
	dropped *[]DroppedTool
	// raw is the request (the body's JSON object), which sentTool's
	// offsets index.
	raw []byte
	// sc is the scratch, whose names are the tools sent upstream so far.
	sc *scratch
	// hashed is how many of sc.names sc.slots holds (see checkUnique).
	hashed int
	// clash holds the first two client names found to share an alias
	// (see appendToolName), "" when none did.
	clash [2]string
}

// Translate converts an Anthropic Messages request body into an OpenAI Chat
// Completions request body, appended to dst. The body is validated and
// scanned once; long strings, tool schemas and other opaque values are
// copied as raw JSON bytes. A client error is returned as *RequestError.
//
// Decisions where the APIs differ:
//   - reasoning_effort is sent to reasoning models only: non-reasoning
//     models (gpt-4o, deepseek-chat, ...) reject it.
//   - output_config.effort applies unless thinking is "disabled"; with
//     thinking "enabled" the budget decides instead.
//   - stop is sent to non-reasoning models only, at most 4 sequences; Info
//     keeps all of them.
//   - metadata.user_id longer than 64 bytes is sent as its SHA-256 (hex).
//   - tool names longer than 64 bytes (OpenAI's limit; Anthropic's is 128)
//     are sent as an alias (see toolAlias); Info.ToolNames maps it back.
func Translate(dst, body []byte, o *Options) ([]byte, Info, error) {
	return TranslateFor(dst, body, o, "")
}

// TranslateFor is Translate for the upstream model upstream instead of the
// one o.Models resolves (upstream "" means that one): a request resent to a
// fallback model is translated for it (its reasoning fields, token limit
// and system role), not patched.
func TranslateFor(dst, body []byte, o *Options, upstream string) ([]byte, Info, error) {
	var info Info
	var sc *scratch
	if o != nil {
		sc, _ = o.scratch.Get().(*scratch)
		defer func() {
			if cap(sc.names) > keepNames {
				sc.names, sc.slots = nil, nil
			}
			o.scratch.Put(sc)
		}()
	}
	if sc == nil {
		sc = &scratch{seed: maphash.MakeSeed()}
	}
	sc.names = sc.names[:0]
	spans, err := validate(body, sc.spans[:0], &sc.stack)
	if err != nil {
		return dst, info, err
	}
	ix := index{spans: spans, capBody: cap(body)}
	// A validated body is whitespace, one value, whitespace, and no value
	// ends in whitespace: trimming finds the value without rescanning it.
	raw := bytes.TrimRight(body[skipWS(body, 0):], " \t\n\r")
	if !isObject(raw) {
		return dst, info, &RequestError{Field: "body", Message: "must be a JSON object"}
	}
	var r request
	it := indexed(raw, &ix)
	for k, v, ok := it.next(); ok; k, v, ok = it.next() {
		switch string(k) {
		case "model":
			r.model = v
		case "messages":
			r.messages = v
		case "system":
			r.system = v
		case "max_tokens":
			r.maxTokens = v
		case "stream":
			r.stream = v
		case "tools":
			r.tools = v
		case "tool_choice":
			r.toolChoice = v
		case "thinking":
			r.thinking = v
		case "output_config":
			r.outputConfig = v
		case "output_format":
			r.outputFormat = v
		case "stop_sequences":
			r.stopSequences = v
		case "metadata":
			r.metadata = v
		case "temperature":
			r.temperature = v
		case "top_p":
			r.topP = v
		}
	}

	switch {
	case r.model == nil:
		return dst, info, &RequestError{Field: "model", Message: "field required"}
	case !isString(r.model) || len(r.model) == 2:
		return dst, info, &RequestError{Field: "model", Message: "must be a non-empty string"}
	case r.messages == nil:
		return dst, info, &RequestError{Field: "messages", Message: "field required"}
	case !isArray(r.messages):
		return dst, info, &RequestError{Field: "messages", Message: "must be an array"}
	case r.maxTokens == nil:
		return dst, info, &RequestError{Field: "max_tokens", Message: "field required"}
	}
	maxTokens, perr := strconv.ParseInt(string(r.maxTokens), 10, 32)
	if perr != nil || maxTokens <= 0 {
		return dst, info, &RequestError{Field: "max_tokens", Message: "must be a positive integer"}
	}

	var models *Models
	var log *zerolog.Logger
	t := translator{sysRole: "system", ix: &ix, toolNames: &info.ToolNames, dropped: &info.DroppedTools, raw: raw, sc: sc}
	if o != nil {
		models = o.Models
		t.replay = o.ReasoningReplay
		log = &o.Logger
	}
	info.Model = unquote(r.model)
	info.UpstreamModel = upstream
	if upstream == "" {
		info.UpstreamModel = models.Resolve(info.Model)
	}
	info.Stream = string(r.stream) == "true"
	t.reasoning = models.IsReasoning(info.UpstreamModel)
	if isOpenAIReasoning(info.UpstreamModel) {
		t.sysRole = "developer"
	}
	info.MaxTokens = int(maxTokens)
	if l := models.MaxOutputTokens(info.UpstreamModel); l > 0 && l < info.MaxTokens {
		info.MaxTokens = l
	}

	dst = slices.Grow(dst, len(raw)+1024)
	mark := len(dst)
	dst = append(dst, `{"model":`...)
	dst = jsonw.AppendString(dst, info.UpstreamModel)
	dst = append(dst, `,"messages":[`...)
	if dst, err = t.appendSystem(dst, r.system); err != nil {
		return dst[:mark], info, err
	}
	if dst, err = t.appendMessages(dst, r.messages); err != nil {
		return dst[:mark], info, err
	}
	if err = t.checkAliases("messages"); err != nil {
		return dst[:mark], info, err
	}
	dst = append(dst, ']')

	if t.reasoning {
		dst = append(dst, `,"max_completion_tokens":`...)
	} else {
		dst = append(dst, `,"max_tokens":`...)
	}
	dst = strconv.AppendInt(dst, int64(info.MaxTokens), 10)
	if info.Stream {
		dst = append(dst, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}

	if dst, err = t.appendTools(dst, r.tools, r.toolChoice, log); err != nil {
		return dst[:mark], info, err
	}

	effort, thinking := reasoningEffort(r.thinking, r.outputConfig)
	info.Thinking = thinking
	if effort != "" && t.reasoning {
		dst = append(dst, `,"reasoning_effort":"`...)
		dst = append(dst, effort...)
		dst = append(dst, '"')
	}

	dst = appendResponseFormat(dst, r.outputConfig, r.outputFormat)

	if r.stopSequences != nil && string(r.stopSequences) != "null" {
		if dst, info.StopSequences, err = t.appendStop(dst, r.stopSequences); err != nil {
			return dst[:mark], info, err
		}
	}
	if !t.reasoning {
		if isNumber(r.temperature) {
			dst = append(dst, `,"temperature":`...)
			dst = append(dst, r.temperature...)
		}
		if isNumber(r.topP) {
			dst = append(dst, `,"top_p":`...)
			dst = append(dst, r.topP...)
		}
	}
	dst = appendUser(dst, r.metadata)
	dst = append(dst, '}')
	info.InputTokensEstimate = (t.textBytes + 3) / 4 // rounded up: "hi" is a token, not none
	return dst, info, nil
}

// reasoningEffort maps Anthropic thinking settings to an OpenAI
// reasoning_effort ("" for none) and reports whether thinking is on.
func reasoningEffort(thinking, outputConfig []byte) (effort string, on bool) {
	var typ, budget []byte
	if isObject(thinking) {
		it := members(thinking)
		for k, v, ok := it.next(); ok; k, v, ok = it.next() {
			switch string(k) {
			case "type":
				typ = v
			case "budget_tokens":
				budget = v
			}
		}
	}
	switch {
	case strEq(typ, "disabled"):
		return "", false
	case strEq(typ, "enabled"):
		n, err := strconv.ParseInt(string(budget), 10, 64)
		switch {
		case err != nil:
			return "medium", true
		case n < 4096:
			return "low", true
		case n < 16384:
			return "medium", true
		default:
			return "high", true
		}
	}
	on = strEq(typ, "adaptive")
	if isObject(outputConfig) {
		it := members(outputConfig)
		for k, v, ok := it.next(); ok; k, v, ok = it.next() {
			if string(k) != "effort" || !isString(v) {
				continue
			}
			switch string(inner(v)) {
			case "low", "minimal":
				effort = "low"
			case "medium":
				effort = "medium"
			case "high", "max", "xhigh":
				effort = "high"
			}
		}
	}
	return effort, on
}

// appendResponseFormat maps output_config.format (or the older top-level
// output_format) of type json_schema to response_format. strict is set only
// when the schema closes its top-level object (additionalProperties:false),
// since OpenAI's strict mode rejects open schemas.
func appendResponseFormat(dst, outputConfig, outputFormat []byte) []byte {
	format := outputFormat
	if isObject(outputConfig) {
		it := members(outputConfig)
		for k, v, ok := it.next(); ok; k, v, ok = it.next() {
			if string(k) == "format" {
				format = v
			}
		}
	}
	if !isObject(format) {
		return dst
	}
	var typ, schema, name []byte
	it := members(format)
	for k, v, ok := it.next(); ok; k, v, ok = it.next() {
		switch string(k) {
		case "type":
			typ = v
		case "schema":
			schema = v
		case "name":
			name = v
		}
	}
	if !strEq(typ, "json_schema") || !isObject(schema) {
		return dst
	}
	dst = append(dst, `,"response_format":{"type":"json_schema","json_schema":{"name":`...)
	if isString(name) && len(name) > 2 {
		dst = append(dst, name...)
	} else {
		dst = append(dst, `"output"`...)
	}
	dst = append(dst, `,"schema":`...)
	dst = append(dst, schema...)
	strict := false
	it = members(schema)
	for k, v, ok := it.next(); ok; k, v, ok = it.next() {
		if string(k) == "additionalProperties" && string(v) == "false" {
			strict = true
		}
	}
	if strict {
		dst = append(dst, `,"strict":true`...)
	}
	return append(dst, "}}"...)
}

// appendStop validates stop_sequences, returns them decoded, and sends the
// first maxStop of them as stop to models that accept it.
func (t *translator) appendStop(dst, raw []byte) ([]byte, []string, error) {
	if !isArray(raw) {
		return dst, nil, &RequestError{Field: "stop_sequences", Message: "must be an array of strings"}
	}
	var seqs []string
	mark := len(dst)
	if !t.reasoning {
		dst = append(dst, `,"stop":[`...)
	}
	it := members(raw)
	for _, v, ok := it.next(); ok; _, v, ok = it.next() {
		if !isString(v) {
			return dst[:mark], nil, &RequestError{Field: "stop_sequences." + strconv.Itoa(len(seqs)), Message: "must be a string"}
		}
		if !t.reasoning && len(seqs) < maxStop {
			if len(seqs) > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, v...)
		}
		seqs = append(seqs, unquote(v))
	}
	if t.reasoning {
		return dst, seqs, nil
	}
	if len(seqs) == 0 {
		return dst[:mark], nil, nil
	}
	return append(dst, ']'), seqs, nil
}

// appendUser maps metadata.user_id to user, hashing values too long for
// OpenAI (SHA-256 of the raw JSON string contents, hex: exactly 64 bytes).
func appendUser(dst, metadata []byte) []byte {
	if !isObject(metadata) {
		return dst
	}
	it := members(metadata)
	for k, v, ok := it.next(); ok; k, v, ok = it.next() {
		if string(k) != "user_id" || !isString(v) || len(v) == 2 {
			continue
		}
		dst = append(dst, `,"user":`...)
		if in := inner(v); len(in) > maxUserLen {
			sum := sha256.Sum256(in)
			dst = append(dst, '"')
			dst = hex.AppendEncode(dst, sum[:])
			dst = append(dst, '"')
		} else {
			dst = append(dst, v...)
		}
		return dst
	}
	return dst
}
