package tokens

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/tiktoken-go/tokenizer"

	"github.com/ccproxy/ccproxy/internal/jsondepth"
	"github.com/ccproxy/ccproxy/proxy/toopenai"
)

// Chat-format overheads; see the package documentation.
const (
	perMessageTokens    = 3  // OpenAI cookbook: every message is framed by 3 tokens, plus its role
	replyPrimingTokens  = 3  // OpenAI cookbook: every reply is primed with <|start|>assistant<|message|>
	toolCallTokens      = 8  // per tool_use: function-call framing around name and arguments
	toolsEndTokens      = 12 // OpenAI cookbook num_tokens_for_tools: func_end, once when tools are present
	perToolTokensO200k  = 7  // OpenAI cookbook num_tokens_for_tools: func_init for gpt-4o and later
	perToolTokensCl100k = 10 // OpenAI cookbook num_tokens_for_tools: func_init for gpt-4 / gpt-3.5
	redactedBytesPerTok = 4  // redacted_thinking: one token per 4 characters of its encrypted data
)

// maxDepth bounds the nesting of a request body (Claude Code's stay below
// ten levels; tool schemas below thirty).
const maxDepth = 256

// walker accumulates the token count of one request.
type walker struct {
	codec tokenizer.Codec
	total int
	buf   bytes.Buffer // scratch for compacting JSON
}

// countRequest counts body with codec; see Counter.Count.
func countRequest(codec tokenizer.Codec, enc Encoding, body []byte) (int, error) {
	// gjson validates and walks recursively: bound the nesting first.
	if jsondepth.Exceeds(body, maxDepth) {
		return 0, invalid("body", "nests JSON deeper than "+strconv.Itoa(maxDepth)+" levels")
	}
	if !gjson.ValidBytes(body) {
		return 0, invalid("body", "is not valid JSON")
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return 0, invalid("body", "must be a JSON object")
	}
	var system, messages, tools gjson.Result
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "system":
			system = v
		case "messages":
			messages = v
		case "tools":
			tools = v
		}
		return true
	})
	if !messages.Exists() {
		return 0, invalid("messages", "is required")
	}
	if !messages.IsArray() {
		return 0, invalid("messages", "must be an array")
	}

	w := &walker{codec: codec}
	if err := w.system(system); err != nil {
		return 0, err
	}
	var err error
	i := 0
	messages.ForEach(func(_, m gjson.Result) bool {
		err = w.message(m, "messages."+strconv.Itoa(i))
		i++
		return err == nil
	})
	if err != nil {
		return 0, err
	}
	perTool := perToolTokensO200k
	if enc == Cl100kBase {
		perTool = perToolTokensCl100k
	}
	if err := w.tools(tools, perTool); err != nil {
		return 0, err
	}
	w.total += replyPrimingTokens
	return w.total, nil
}

// maxSpaceRun is the longest whitespace run handed to the tokenizer in one
// piece. The pre-tokenizer regexp costs time quadratic in the length of a
// whitespace run (64 KB of "\n \n" takes over 10 s), so text is cut inside
// longer runs. Each cut can add about one token, which errs on the safe side.
const maxSpaceRun = 128

// text adds the tokens of s.
func (w *walker) text(s string) error {
	for s != "" {
		seg := s[:spaceRunCut(s)]
		n, err := w.codec.Count(seg)
		if err != nil {
			return fmt.Errorf("tokens: tokenize: %w", err)
		}
		w.total += n
		s = s[len(seg):]
	}
	return nil
}

// spaceRunCut returns where to end the next segment of s: len(s), or the point
// where a whitespace run (Unicode whitespace, as the tokenizer's \s) reaches
// maxSpaceRun bytes. Cuts fall on rune boundaries.
func spaceRunCut(s string) int {
	run := 0
	for i := 0; i < len(s); {
		c, size := rune(s[i]), 1
		if c >= utf8.RuneSelf {
			c, size = utf8.DecodeRuneInString(s[i:])
		}
		i += size
		if !unicode.IsSpace(c) {
			run = 0
			continue
		}
		run += size
		if run >= maxSpaceRun && i < len(s) {
			return i
		}
	}
	return len(s)
}

// json adds the tokens of a JSON value in compact form, the way it is sent upstream.
func (w *walker) json(v gjson.Result) error {
	if !v.Exists() {
		return nil
	}
	w.buf.Reset()
	if err := json.Compact(&w.buf, []byte(v.Raw)); err != nil {
		return w.text(v.Raw) // cannot happen: the body was validated
	}
	return w.text(w.buf.String())
}

// frame adds the per-message overhead of a message with the given role.
func (w *walker) frame(role string) error {
	w.total += perMessageTokens
	return w.text(role)
}

func (w *walker) system(s gjson.Result) error {
	switch {
	case !s.Exists() || s.Type == gjson.Null:
		return nil
	case s.Type == gjson.String:
		if s.Str == "" {
			return nil
		}
		if err := w.frame("system"); err != nil {
			return err
		}
		return w.text(s.Str)
	case s.IsArray():
		if err := w.frame("system"); err != nil {
			return err
		}
		return w.blocks(s, "system")
	default:
		return invalid("system", "must be a string or an array of content blocks")
	}
}

func (w *walker) message(m gjson.Result, path string) error {
	if !m.IsObject() {
		return invalid(path, "must be an object")
	}
	role := m.Get("role")
	if role.Type != gjson.String {
		return invalid(path+".role", "must be a string")
	}
	if err := w.frame(role.Str); err != nil {
		return err
	}
	content := m.Get("content")
	switch {
	case !content.Exists():
		return invalid(path+".content", "is required")
	case content.Type == gjson.String:
		return w.text(content.Str)
	case content.IsArray():
		return w.blocks(content, path+".content")
	default:
		return invalid(path+".content", "must be a string or an array of content blocks")
	}
}

// blocks counts an array of content blocks; path names the array.
func (w *walker) blocks(arr gjson.Result, path string) error {
	var err error
	i := 0
	arr.ForEach(func(_, b gjson.Result) bool {
		if !b.IsObject() {
			err = invalid(path+"."+strconv.Itoa(i), "must be an object")
		} else {
			err = w.block(b, path+"."+strconv.Itoa(i))
		}
		i++
		return err == nil
	})
	return err
}

// block counts one content block.
func (w *walker) block(b gjson.Result, path string) error {
	switch b.Get("type").Str {
	case "text":
		return w.text(b.Get("text").String())
	case "image":
		w.total += imageSourceTokens(b.Get("source"))
		return nil
	case "document":
		return w.document(b, path)
	case "tool_use", "server_tool_use", "mcp_tool_use":
		w.total += toolCallTokens
		if err := w.text(b.Get("name").String()); err != nil {
			return err
		}
		return w.json(b.Get("input"))
	case "tool_result", "mcp_tool_result":
		// Sent upstream as its own role:"tool" message.
		if err := w.frame("tool"); err != nil {
			return err
		}
		return w.nested(b.Get("content"), path+".content")
	case "thinking":
		return w.text(b.Get("thinking").String())
	case "redacted_thinking":
		w.total += ceilDiv(len(b.Get("data").String()), redactedBytesPerTok)
		return nil
	case "search_result":
		if err := w.text(b.Get("title").String()); err != nil {
			return err
		}
		if err := w.text(b.Get("source").String()); err != nil {
			return err
		}
		return w.nested(b.Get("content"), path+".content")
	default:
		// Unknown and server-result blocks (web_search_tool_result, ...): their JSON.
		return w.json(b)
	}
}

// nested counts content that may be a string or an array of blocks (tool_result
// content, search_result content, a document's content source).
func (w *walker) nested(c gjson.Result, path string) error {
	switch {
	case !c.Exists() || c.Type == gjson.Null:
		return nil
	case c.Type == gjson.String:
		return w.text(c.Str)
	case c.IsArray():
		return w.blocks(c, path)
	default:
		return w.json(c)
	}
}

func (w *walker) document(b gjson.Result, path string) error {
	if err := w.text(b.Get("title").String()); err != nil {
		return err
	}
	if err := w.text(b.Get("context").String()); err != nil {
		return err
	}
	src := b.Get("source")
	switch src.Get("type").Str {
	case "base64":
		w.total += pdfTokens(src.Get("data").String())
		return nil
	case "text":
		return w.text(src.Get("data").String())
	case "content":
		return w.nested(src.Get("content"), path+".source.content")
	default: // url, file: the content is not in the request
		w.total += pdfUnknownTokens
		return nil
	}
}

// imageSourceTokens estimates an image block from its source.
func imageSourceTokens(src gjson.Result) int {
	switch src.Get("type").Str {
	case "base64":
		return base64ImageTokens(src.Get("data").String())
	case "url":
		if u := src.Get("url").Str; len(u) > 5 && u[:5] == "data:" {
			return base64ImageTokens(u)
		}
	}
	return imageUnknownTokens
}

// definedTool counts a tool without an input_schema. An Anthropic-defined
// client tool (bash, text editor, computer, memory) goes upstream as a
// function with Anthropic's description and schema (toopenai.ClientTool):
// its name and those are counted, and for the computer tool its
// definition's JSON as well, standing in for the display size added to the
// description. Other tools (server tools such as web_search_20250305, which
// are not sent, and custom tools without a schema) count their JSON.
func (w *walker) definedTool(t gjson.Result) error {
	typ := t.Get("type")
	if typ.Type != gjson.String || typ.Str == "custom" {
		return w.json(t)
	}
	desc, params, ok := toopenai.ClientTool(typ.Str)
	if !ok {
		return w.json(t)
	}
	for _, s := range []string{t.Get("name").String(), desc, params} {
		if err := w.text(s); err != nil {
			return err
		}
	}
	if strings.HasPrefix(typ.Str, "computer_") {
		return w.json(t)
	}
	return nil
}

// sentUpstream reports whether the tool t goes upstream (as /v1/messages
// translates it): a tool with an input_schema, a custom or untyped one, or
// an Anthropic-defined client tool; server tools are dropped.
func sentUpstream(t gjson.Result) bool {
	if t.Get("input_schema").Exists() {
		return true
	}
	typ := t.Get("type")
	if typ.Type != gjson.String || typ.Str == "custom" {
		return true
	}
	_, _, ok := toopenai.ClientTool(typ.Str)
	return ok
}

// tools counts tool definitions, perTool being the per-function framing.
// Two tools sent upstream under one name are refused, as /v1/messages
// (and Anthropic) refuses them.
func (w *walker) tools(tools gjson.Result, perTool int) error {
	switch {
	case !tools.Exists() || tools.Type == gjson.Null:
		return nil
	case !tools.IsArray():
		return invalid("tools", "must be an array")
	}
	var err error
	i := 0
	var sent map[string]int // the names of the tools sent upstream: their index
	tools.ForEach(func(_, t gjson.Result) bool {
		if !t.IsObject() {
			err = invalid("tools."+strconv.Itoa(i), "must be an object")
			return false
		}
		if name := t.Get("name"); name.Type == gjson.String && sentUpstream(t) {
			if first, dup := sent[name.Str]; dup {
				err = invalid("tools", "Tool names must be unique. tools."+strconv.Itoa(first)+" and tools."+strconv.Itoa(i)+
					" are both named "+strconv.Quote(name.Str)+".")
				return false
			}
			if sent == nil {
				sent = make(map[string]int)
			}
			sent[name.Str] = i
		}
		i++
		w.total += perTool
		schema := t.Get("input_schema")
		if !schema.Exists() || schema.Type == gjson.Null {
			err = w.definedTool(t)
			return err == nil
		}
		if err = w.text(t.Get("name").String()); err != nil {
			return false
		}
		if err = w.text(t.Get("description").String()); err != nil {
			return false
		}
		err = w.json(schema)
		return err == nil
	})
	if err != nil {
		return err
	}
	if i > 0 {
		w.total += toolsEndTokens
	}
	return nil
}
