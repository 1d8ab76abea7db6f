package tokens

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tiktoken-go/tokenizer"
)

const o200k, cl100k = tokenizer.O200kBase, tokenizer.Cl100kBase

func TestEncodingFor(t *testing.T) {
	cases := map[string]Encoding{
		"gpt-4":                   Cl100kBase,
		"gpt-4-0613":              Cl100kBase,
		"gpt-4-turbo":             Cl100kBase,
		"GPT-3.5-turbo":           Cl100kBase,
		"gpt-35-turbo":            Cl100kBase,
		"openai/gpt-4":            Cl100kBase,
		"ft:gpt-3.5-turbo:acme":   Cl100kBase,
		"gpt-4o":                  O200kBase,
		"gpt-4o-mini":             O200kBase,
		"gpt-4.1-nano":            O200kBase,
		"gpt-5":                   O200kBase,
		"o3-mini":                 O200kBase,
		"o4-mini":                 O200kBase,
		"openrouter/openai/gpt-5": O200kBase,
		"deepseek-chat":           O200kBase,
		"":                        O200kBase,
	}
	for model, want := range cases {
		if got := EncodingFor(model); got != want {
			t.Errorf("EncodingFor(%q) = %s, want %s", model, got, want)
		}
	}
}

// The reference library itself: well-known tiktoken answers.
func TestReferenceTokenizer(t *testing.T) {
	ids, _, err := refCodec(t, cl100k).Encode("hello world")
	if err != nil || len(ids) != 2 || ids[0] != 15339 || ids[1] != 1917 {
		t.Fatalf("cl100k hello world = %v, %v; want [15339 1917]", ids, err)
	}
	for _, enc := range []tokenizer.Encoding{o200k, cl100k} {
		if n := ref(t, enc, "hello world"); n != 2 {
			t.Errorf("%s: hello world = %d tokens, want 2", enc, n)
		}
		// OpenAI cookbook "How to count tokens with tiktoken": 6 tokens in both.
		if n := ref(t, enc, "tiktoken is great!"); n != 6 {
			t.Errorf("%s: tiktoken is great! = %d tokens, want 6", enc, n)
		}
		if n := ref(t, enc, "user"); n != 1 {
			t.Errorf("%s: user = %d tokens, want 1", enc, n)
		}
	}
}

// One user message "hello world": 3 framing + 1 role ("user") + 2 text + 3 reply priming.
func TestCountKnownAnswer(t *testing.T) {
	c := NewCounter(16)
	for _, model := range []string{"gpt-5", "gpt-4"} {
		if n := mustCount(t, c, req([]any{user("hello world")}), model); n != 9 {
			t.Errorf("%s: count = %d, want 9", model, n)
		}
		if n := mustCount(t, c, req([]any{user([]any{map[string]any{"type": "text", "text": "hello world"}})}), model); n != 9 {
			t.Errorf("%s: text block count = %d, want 9", model, n)
		}
	}
	// Two messages: each framed, one priming.
	n := mustCount(t, c, req([]any{user("hello world"), assistant("hello world")}), "gpt-5")
	want := 3 + ref(t, o200k, "user") + 2 + 3 + ref(t, o200k, "assistant") + 2 + 3
	if n != want {
		t.Errorf("two messages = %d, want %d", n, want)
	}
}

// Each block type adds exactly its documented cost on top of a base request.
func TestCountBlockTypes(t *testing.T) {
	c := NewCounter(0)
	base := mustCount(t, c, req([]any{user("hello world")}), "gpt-5")
	input := map[string]any{"command": "ls -la /home/user/project", "timeout": 120000}
	inputJSON, _ := json.Marshal(input)
	png := b64(pngBytes(t, 600, 400)) // 2x1 tiles: 85 + 2*170
	thinking := "The user wants a directory listing, so I will run ls."
	redacted := strings.Repeat("QUJD", 25) // 100 chars -> 25 tokens
	unknown := map[string]any{"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []any{}}
	unknownJSON, _ := json.Marshal(unknown)
	tool := ref(t, o200k, "tool")

	cases := []struct {
		name string
		msg  any
		add  int
	}{
		{"text", user([]any{map[string]any{"type": "text", "text": "tiktoken is great!"}}), 6},
		{"tool_use", assistant([]any{map[string]any{"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": input}}),
			toolCallTokens + ref(t, o200k, "Bash") + ref(t, o200k, string(inputJSON))},
		{"tool_result string", user([]any{map[string]any{"type": "tool_result", "tool_use_id": "toolu_01", "content": "tiktoken is great!"}}),
			perMessageTokens + tool + 6},
		{"tool_result array with image", user([]any{map[string]any{"type": "tool_result", "tool_use_id": "toolu_01", "content": []any{
			map[string]any{"type": "text", "text": "tiktoken is great!"},
			map[string]any{"type": "image", "source": map[string]any{"type": "base64", "media_type": "image/png", "data": png}},
		}}}), perMessageTokens + tool + 6 + 425},
		{"thinking", assistant([]any{map[string]any{"type": "thinking", "thinking": thinking, "signature": "c2ln"}}), ref(t, o200k, thinking)},
		{"redacted_thinking", assistant([]any{map[string]any{"type": "redacted_thinking", "data": redacted}}), 25},
		{"image png", user([]any{map[string]any{"type": "image", "source": map[string]any{"type": "base64", "media_type": "image/png", "data": png}}}), 425},
		{"image url", user([]any{map[string]any{"type": "image", "source": map[string]any{"type": "url", "url": "https://example.com/a.png"}}}), imageUnknownTokens},
		{"document text", user([]any{map[string]any{"type": "document", "title": "hello world", "source": map[string]any{"type": "text", "media_type": "text/plain", "data": "tiktoken is great!"}}}), 2 + 6},
		{"document pdf", user([]any{map[string]any{"type": "document", "source": map[string]any{"type": "base64", "media_type": "application/pdf", "data": b64([]byte(twoPagePDF))}}}), 2 * pdfPageTokens},
		{"document url", user([]any{map[string]any{"type": "document", "source": map[string]any{"type": "url", "url": "https://example.com/a.pdf"}}}), pdfUnknownTokens},
		{"search_result", user([]any{map[string]any{"type": "search_result", "title": "hello world", "source": "hello world", "content": []any{map[string]any{"type": "text", "text": "tiktoken is great!"}}}}), 2 + 2 + 6},
		{"unknown block", assistant([]any{unknown}), ref(t, o200k, string(unknownJSON))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := mustCount(t, c, req([]any{user("hello world"), tc.msg}), "gpt-5")
			role := tc.msg.(map[string]any)["role"].(string)
			want := base + perMessageTokens + ref(t, o200k, role) + tc.add
			if n != want {
				t.Errorf("count = %d, want %d (base %d + framing + %d)", n, want, base, tc.add)
			}
			if n <= base {
				t.Errorf("block did not increase the count: %d <= %d", n, base)
			}
		})
	}
}

func TestCountSystem(t *testing.T) {
	c := NewCounter(0)
	base := mustCount(t, c, req([]any{user("hello world")}), "gpt-5")
	frame := perMessageTokens + ref(t, o200k, "system")
	s := mustCount(t, c, req([]any{user("hello world")}, "system", "tiktoken is great!"), "gpt-5")
	if s != base+frame+6 {
		t.Errorf("string system = %d, want %d", s, base+frame+6)
	}
	blocks := []any{
		map[string]any{"type": "text", "text": "tiktoken is great!", "cache_control": map[string]any{"type": "ephemeral"}},
		map[string]any{"type": "text", "text": "hello world"},
	}
	if b := mustCount(t, c, req([]any{user("hello world")}, "system", blocks), "gpt-5"); b != base+frame+6+2 {
		t.Errorf("block system = %d, want %d", b, base+frame+6+2)
	}
	if e := mustCount(t, c, req([]any{user("hello world")}, "system", ""), "gpt-5"); e != base {
		t.Errorf("empty system = %d, want %d", e, base)
	}
}

func TestCountTools(t *testing.T) {
	schema := map[string]any{"type": "object", "properties": map[string]any{"command": map[string]any{"type": "string"}}, "required": []any{"command"}}
	schemaJSON, _ := json.Marshal(schema)
	tools := []any{map[string]any{"name": "Bash", "description": "Run a shell command.", "input_schema": schema}}
	server := map[string]any{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
	serverJSON, _ := json.Marshal(server)

	c := NewCounter(0)
	for _, tc := range []struct {
		model   string
		enc     tokenizer.Encoding
		perTool int
	}{{"gpt-5", o200k, perToolTokensO200k}, {"gpt-4", cl100k, perToolTokensCl100k}} {
		base := mustCount(t, c, req([]any{user("hello world")}), tc.model)
		one := mustCount(t, c, req([]any{user("hello world")}, "tools", tools), tc.model)
		want := base + toolsEndTokens + tc.perTool + ref(t, tc.enc, "Bash") + ref(t, tc.enc, "Run a shell command.") + ref(t, tc.enc, string(schemaJSON))
		if one != want {
			t.Errorf("%s: one tool = %d, want %d", tc.model, one, want)
		}
		two := mustCount(t, c, req([]any{user("hello world")}, "tools", append(tools, server)), tc.model)
		if want2 := want + tc.perTool + ref(t, tc.enc, string(serverJSON)); two != want2 {
			t.Errorf("%s: with server tool = %d, want %d", tc.model, two, want2)
		}
	}
}

// Tool input and schemas are counted in compact form, whatever the body's indentation.
func TestCountIgnoresBodyIndentation(t *testing.T) {
	body := readFixture(t, "cc-2.1.332-print-tool-result-turn.json")
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		t.Fatal(err)
	}
	c := NewCounter(4)
	a, err := c.Count(body, "gpt-5")
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Count(compact.Bytes(), "gpt-5")
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("indented body = %d tokens, compact = %d", a, b)
	}
}

// The real Claude Code count_tokens body: 12 tools and one short message.
func TestCountFixtureWithTools(t *testing.T) {
	body := readFixture(t, "cc-2.1.332-count-tokens-with-tools.json")
	c := NewCounter(4)
	n, err := c.Count(body, "gpt-5")
	if err != nil {
		t.Fatal(err)
	}
	// The fixture is re-indented (Claude Code sends compact JSON), so the
	// plausibility band is taken over its compact size: English prose and JSON
	// run 2.5 to 5 bytes per o200k token.
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		t.Fatal(err)
	}
	lo, hi := compact.Len()*10/50, compact.Len()*10/25
	if n < lo || n > hi {
		t.Errorf("count = %d, want within [%d, %d] (compact size %d bytes)", n, lo, hi, compact.Len())
	}

	// Text only (what chars/4-style counters see): message text and tool descriptions.
	var doc struct {
		Messages []struct{ Content string }
		Tools    []struct{ Name, Description string }
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	textOnly := 0
	for _, m := range doc.Messages {
		textOnly += ref(t, o200k, m.Content)
	}
	for _, tl := range doc.Tools {
		textOnly += ref(t, o200k, tl.Name) + ref(t, o200k, tl.Description)
	}
	if len(doc.Tools) != 12 {
		t.Fatalf("fixture has %d tools, want 12", len(doc.Tools))
	}
	if n <= textOnly {
		t.Errorf("count %d not above the text-only count %d", n, textOnly)
	}
	// Dropping the tools must drop most of the count.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "tools")
	noTools, _ := json.Marshal(m)
	nt, err := c.Count(noTools, "gpt-5")
	if err != nil {
		t.Fatal(err)
	}
	if nt >= n/10 {
		t.Errorf("without tools = %d, with = %d: tools should dominate", nt, n)
	}
	t.Logf("fixture: %d tokens (text only %d, without tools %d, %d bytes, %d compact)", n, textOnly, nt, len(body), compact.Len())
}

func TestCountInvalid(t *testing.T) {
	cases := []struct {
		body, field string
	}{
		{``, "body"},
		{`not json`, "body"},
		{`{"messages":[`, "body"},
		{`[1,2]`, "body"},
		{`{"model":"x"}`, "messages"},
		{`{"messages":{}}`, "messages"},
		{`{"messages":"hi"}`, "messages"},
		{`{"messages":[1]}`, "messages.0"},
		{`{"messages":[{"role":"user","content":"a"},{"content":"b"}]}`, "messages.1.role"},
		{`{"messages":[{"role":"user"}]}`, "messages.0.content"},
		{`{"messages":[{"role":"user","content":42}]}`, "messages.0.content"},
		{`{"messages":[{"role":"user","content":[{"type":"text","text":"a"},"b"]}]}`, "messages.0.content.1"},
		{`{"messages":[{"role":"user","content":[{"type":"tool_result","content":[7]}]}]}`, "messages.0.content.0.content.0"},
		{`{"system":3,"messages":[]}`, "system"},
		{`{"system":["x"],"messages":[]}`, "system.0"},
		{`{"tools":{},"messages":[]}`, "tools"},
		{`{"tools":[{"name":"a","input_schema":{}},1],"messages":[]}`, "tools.1"},
	}
	c := NewCounter(8)
	for _, tc := range cases {
		n, err := c.Count([]byte(tc.body), "gpt-5")
		ie, ok := asInvalid(err)
		if !ok {
			t.Errorf("%s: Count = %d, %v; want *InvalidRequestError", tc.body, n, err)
			continue
		}
		if ie.Field != tc.field {
			t.Errorf("%s: Field = %q, want %q (%v)", tc.body, ie.Field, tc.field, err)
		}
		if !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error %q does not name the field", tc.body, err)
		}
	}
	if s := c.CacheStats(); s.Entries != 0 {
		t.Errorf("errors were cached: %+v", s)
	}
	// Valid edge cases.
	for _, body := range []string{`{"messages":[]}`, `{"messages":[],"system":null,"tools":null}`, `{"messages":[{"role":"system","content":"x"}]}`} {
		if _, err := c.Count([]byte(body), "gpt-5"); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
}

// Long whitespace runs are cut: the count stays close to (never below) the
// uncut reference and the quadratic pre-tokenizer cost is avoided.
func TestCountLongWhitespace(t *testing.T) {
	s := strings.Repeat("\n \n", 700) + "done"
	c := NewCounter(0)
	body, _ := json.Marshal(req([]any{user(s)}))
	n, err := c.Count(body, "gpt-5")
	if err != nil {
		t.Fatal(err)
	}
	exact := 3 + 1 + ref(t, o200k, s) + 3
	if n < exact || n > exact+exact/10 {
		t.Errorf("count = %d, want within [%d, %d]", n, exact, exact+exact/10)
	}
	// Large runs, ASCII and Unicode, complete (uncut they take minutes).
	for _, s := range []string{strings.Repeat(" \n", 64<<10), strings.Repeat(" \t \r\n \u00a0\u3000", 8<<10)} {
		big, _ := json.Marshal(req([]any{user(s)}))
		if n, err := c.Count(big, "gpt-5"); err != nil || n < 1000 {
			t.Errorf("%d bytes of whitespace: %d, %v", len(s), n, err)
		}
	}
}

// TestDeepNestingRefused: a deeply nested body is an invalid request, not a
// stack overflow in the recursive JSON walk.
func TestDeepNestingRefused(t *testing.T) {
	c := NewCounter(8)
	body := []byte(`{"model":"gpt-4o","messages":` + strings.Repeat("[", 1<<20) + `}`)
	_, err := c.Count(body, "gpt-4o")
	var ie *InvalidRequestError
	if !errors.As(err, &ie) || ie.Field != "body" {
		t.Fatalf("err = %v, want an InvalidRequestError on body", err)
	}
}
