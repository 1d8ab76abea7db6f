package fakeupstream

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

func TestProtocols(t *testing.T) {
	for _, p := range protocols {
		t.Run(string(p.proto), func(t *testing.T) {
			s, c := start(t, Options{Protocol: p.proto})

			// unary
			resp := post(t, nil, s, c, chatBody(false, false, ""))
			b := readAll(t, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Proto != p.want {
				t.Fatalf("status %d proto %s: %s", resp.StatusCode, resp.Proto, b)
			}
			j := gjson.ParseBytes(b)
			if j.Get("object").Str != "chat.completion" || j.Get("model").Str != "gpt-test" ||
				j.Get("choices.0.message.role").Str != "assistant" || j.Get("choices.0.finish_reason").Str != "stop" {
				t.Fatalf("unary body: %s", b)
			}
			text := j.Get("choices.0.message.content").Str
			if !strings.HasPrefix(text, ReplyPrefix+" You said: hello there") || len(text) < DefaultReplyBytes-20 || len(text) > DefaultReplyBytes+40 {
				t.Fatalf("unary text (%d B): %q", len(text), text)
			}
			u := j.Get("usage")
			if u.Get("prompt_tokens").Int() < 1 || u.Get("completion_tokens").Int() != int64(len(text)/4) ||
				u.Get("total_tokens").Int() != u.Get("prompt_tokens").Int()+u.Get("completion_tokens").Int() ||
				!u.Get("prompt_tokens_details.cached_tokens").Exists() {
				t.Fatalf("usage: %s", u.Raw)
			}
			if got := s.LastRequest(); got.Proto != p.want || got.Method != "POST" || got.Path != "/v1/chat/completions" ||
				string(got.Body) != chatBody(false, false, "") || got.Header.Get("Authorization") != "Bearer sk-test" {
				t.Fatalf("recorded %+v", got)
			}

			// stream without usage
			resp = post(t, nil, s, c, chatBody(true, false, ""))
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") || resp.Proto != p.want {
				t.Fatalf("stream content-type %q proto %s", ct, resp.Proto)
			}
			events, err := newSSE(resp.Body).all()
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			sum := summarize(t, events)
			if sum.role != "assistant" || sum.content != text || sum.finish != "stop" || !sum.done || sum.usage.Exists() {
				t.Fatalf("stream summary %+v", sum)
			}
			if sum.chunks != 1+DefaultChunks+1 {
				t.Fatalf("chunks = %d, want role + %d + finish", sum.chunks, DefaultChunks)
			}
			if first := gjson.Parse(events[0]).Get("choices.0.delta"); first.Get("content").Type != gjson.String || first.Get("content").Str != "" {
				t.Fatalf("role chunk should carry empty content: %s", events[0])
			}

			st := s.Stats()
			if st.Requests != 2 || st.Streams != 1 || st.ByProto[p.want] != 2 || st.ConnsAccepted < 1 || st.Canceled != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestStreamIncludeUsage(t *testing.T) {
	s, c := start(t, Options{Chunks: 5})
	body := chatBody(true, true, "")
	resp := post(t, nil, s, c, body)
	events, err := newSSE(resp.Body).all()
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	sum := summarize(t, events)
	if sum.chunks != 1+5+1 || !sum.done {
		t.Fatalf("summary %+v", sum)
	}
	// the usage chunk is last before [DONE], with choices: []
	last := gjson.Parse(events[len(events)-2])
	if events[len(events)-1] != "[DONE]" || !last.Get("choices").IsArray() || len(last.Get("choices").Array()) != 0 {
		t.Fatalf("usage chunk: %s", events[len(events)-2])
	}
	if sum.usage.Get("prompt_tokens").Int() != int64(len(body)/4) || sum.usage.Get("completion_tokens").Int() != int64(len(sum.content)/4) {
		t.Fatalf("usage %s", sum.usage.Raw)
	}
	// the other chunks carry "usage":null, as OpenAI sends them
	if u := gjson.Parse(events[1]).Get("usage"); u.Type != gjson.Null || !u.Exists() {
		t.Fatalf("content chunk usage: %s", events[1])
	}
}

func TestStreamEventByEvent(t *testing.T) {
	for _, p := range protocols {
		t.Run(string(p.proto), func(t *testing.T) {
			// A long interval: the first event must arrive while the rest are
			// still hours away.
			s, c := start(t, Options{Protocol: p.proto, ChunkInterval: time.Hour})
			resp := post(t, bounded(t), s, c, chatBody(true, false, ""))
			ev, err := newSSE(resp.Body).next()
			if err != nil {
				t.Fatal(err)
			}
			if gjson.Parse(ev).Get("choices.0.delta.role").Str != "assistant" {
				t.Fatalf("first event %s", ev)
			}
			resp.Body.Close()
			waitFor(t, "Canceled", func() bool { return s.Stats().Canceled == 1 })
		})
	}
}

func TestToolCallPolicy(t *testing.T) {
	s, c := start(t, Options{})
	tools := `,"tools":[{"type":"function","function":{"name":"Read","parameters":{}}},{"type":"function","function":{"name":"Bash","parameters":{}}}]`

	resp := post(t, nil, s, c, chatBody(true, true, tools))
	events, err := newSSE(resp.Body).all()
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	sum := summarize(t, events)
	if sum.toolName != "Bash" || !strings.HasPrefix(sum.toolID, "call_") || sum.toolArgs != BashArguments || sum.finish != "tool_calls" || sum.content != "" {
		t.Fatalf("tool stream %+v", sum)
	}
	// arguments come in several fragments; only the first names the tool
	frags := 0
	for _, ev := range events {
		tc := gjson.Parse(ev).Get("choices.0.delta.tool_calls.0")
		if tc.Get("function.arguments").Str != "" {
			frags++
			if tc.Get("id").Exists() || tc.Get("function.name").Exists() {
				t.Fatalf("later fragment repeats id/name: %s", ev)
			}
		}
	}
	if frags < 2 {
		t.Fatalf("arguments in %d fragments", frags)
	}

	// unary, and a non-Bash tool gets {}
	resp = post(t, nil, s, c, chatBody(false, false, `,"tools":[{"type":"function","function":{"name":"Read"}}]`))
	b := readAll(t, resp.Body)
	resp.Body.Close()
	j := gjson.ParseBytes(b)
	if j.Get("choices.0.finish_reason").Str != "tool_calls" || j.Get("choices.0.message.tool_calls.0.function.name").Str != "Read" ||
		j.Get("choices.0.message.tool_calls.0.function.arguments").Str != "{}" || j.Get("choices.0.message.content").Type != gjson.Null {
		t.Fatalf("unary tool call: %s", b)
	}

	// the last message is a tool result: text about it
	hist := `{"model":"gpt-test","stream":true,"tools":[{"type":"function","function":{"name":"Bash"}}],"messages":[` +
		`{"role":"user","content":"run it"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"Bash","arguments":"{}"}}]},` +
		`{"role":"tool","tool_call_id":"call_1","content":[{"type":"text","text":"hello from the ccproxy demo upstream\n"}]}]}`
	resp = post(t, nil, s, c, hist)
	events, err = newSSE(resp.Body).all()
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	sum = summarize(t, events)
	if sum.content != ToolResultPrefix+"hello from the ccproxy demo upstream\n" || sum.finish != "stop" || sum.toolName != "" {
		t.Fatalf("tool result reply %+v", sum)
	}

	// tool results followed by a user message of the same turn (extra text
	// next to the tool_result): still a tool-result turn, not a new call
	hist = strings.Replace(hist, `\n"}]}]}`, `\n"}]},{"role":"user","content":"<system-reminder>x</system-reminder>"}]}`, 1)
	resp = post(t, nil, s, c, hist)
	events, err = newSSE(resp.Body).all()
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sum = summarize(t, events); !strings.HasPrefix(sum.content, ToolResultPrefix) || sum.toolName != "" {
		t.Fatalf("tool result + user text reply %+v", sum)
	}
	if !strings.Contains(string(s.LastRequest().Body), "system-reminder") {
		t.Fatal("the request was not the modified one")
	}
}

func TestLengthAndReasoning(t *testing.T) {
	s, c := start(t, Options{Reasoning: true})
	resp := post(t, nil, s, c, chatBody(false, false, `,"max_tokens":1`))
	b := readAll(t, resp.Body)
	resp.Body.Close()
	if j := gjson.ParseBytes(b); j.Get("choices.0.finish_reason").Str != "length" || len(j.Get("choices.0.message.content").Str) > 4 {
		t.Fatalf("max_tokens 1: %s", b)
	}

	resp = post(t, nil, s, c, chatBody(true, true, `,"reasoning_effort":"high"`))
	events, err := newSSE(resp.Body).all()
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	sum := summarize(t, events)
	if sum.reasoning == "" || sum.usage.Get("completion_tokens_details.reasoning_tokens").Int() == 0 {
		t.Fatalf("no reasoning: %+v", sum)
	}
	// reasoning comes before any content
	seenContent := false
	for _, ev := range events {
		d := gjson.Parse(ev).Get("choices.0.delta")
		if d.Get("content").Str != "" {
			seenContent = true
		}
		if d.Get("reasoning_content").Exists() && seenContent {
			t.Fatalf("reasoning after content: %s", ev)
		}
	}

	// without Reasoning the same request has none
	s.SetOptions(func(o *Options) { o.Reasoning = false })
	resp = post(t, nil, s, c, chatBody(true, false, `,"reasoning_effort":"high"`))
	events, _ = newSSE(resp.Body).all()
	resp.Body.Close()
	if sum := summarize(t, events); sum.reasoning != "" {
		t.Fatalf("reasoning with Options.Reasoning false: %+v", sum)
	}
}

func TestDeterministic(t *testing.T) {
	s, c := start(t, Options{})
	var bodies []string
	for range 2 {
		resp := post(t, nil, s, c, chatBody(true, true, ""))
		bodies = append(bodies, string(readAll(t, resp.Body)))
		resp.Body.Close()
	}
	if bodies[0] != bodies[1] {
		t.Fatalf("replies differ:\n%s\n%s", bodies[0], bodies[1])
	}
}

func TestErrorsAndRoutes(t *testing.T) {
	s, c := start(t, Options{})
	do := func(method, path, auth, body string) (int, gjson.Result) {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, gjson.ParseBytes(readAll(t, resp.Body))
	}
	cases := []struct {
		method, path, auth, body string
		status                   int
		msg                      string
	}{
		{"POST", "/v1/chat/completions", "", chatBody(false, false, ""), 401, "API key"},
		{"POST", "/v1/chat/completions", "Bearer ", chatBody(false, false, ""), 401, "API key"},
		{"POST", "/v1/chat/completions", "Bearer k", `{"model":`, 400, "parse the JSON"},
		{"POST", "/v1/chat/completions", "Bearer k", `{"messages":[{"role":"user","content":"x"}]}`, 400, "model"},
		{"POST", "/v1/chat/completions", "Bearer k", `{"model":"m"}`, 400, "messages"},
		{"POST", "/chat/completions", "Bearer k", chatBody(false, false, ""), 404, "Invalid URL"},
		{"GET", "/v1/chat/completions", "Bearer k", "", 405, "Invalid method"},
		{"GET", "/v1/models", "", "", 401, "API key"},
		// Function names as OpenAI checks them: ^[a-zA-Z0-9_-]{1,64}$.
		{"POST", "/v1/chat/completions", "Bearer k", chatBody(false, false, `,"tools":[{"type":"function","function":{"name":"Read"}},{"type":"function","function":{"name":"`+strings.Repeat("a", 65)+`"}}]`), 400, "'tools[1].function.name': string too long"},
		{"POST", "/v1/chat/completions", "Bearer k", chatBody(false, false, `,"tools":[{"type":"function","function":{"name":"a.b"}}]`), 400, "'tools[0].function.name': string does not match pattern"},
	}
	for _, tc := range cases {
		st, j := do(tc.method, tc.path, tc.auth, tc.body)
		if st != tc.status || !strings.Contains(j.Get("error.message").Str, tc.msg) || !j.Get("error.type").Exists() {
			t.Errorf("%s %s auth=%q body=%q: %d %s", tc.method, tc.path, tc.auth, tc.body, st, j.Raw)
		}
	}
	st, j := do("GET", "/v1/models", "Bearer k", "")
	if st != 200 || j.Get("object").Str != "list" || j.Get("data.0.object").Str != "model" {
		t.Fatalf("models: %d %s", st, j.Raw)
	}
}

func TestRecordingRing(t *testing.T) {
	s, c := start(t, Options{})
	for i := range recordRing + 3 {
		resp := post(t, nil, s, c, chatBody(false, false, `,"n":`+strconv.Itoa(i)))
		readAll(t, resp.Body)
		resp.Body.Close()
	}
	all := s.Requests()
	if len(all) != recordRing {
		t.Fatalf("%d recorded", len(all))
	}
	if n := gjson.GetBytes(all[0].Body, "n").Int(); n != 3 {
		t.Fatalf("oldest recorded n=%d, want 3", n)
	}
	if n := gjson.GetBytes(all[len(all)-1].Body, "n").Int(); n != recordRing+2 {
		t.Fatalf("newest recorded n=%d", n)
	}
	// deep copies: mutating them does not change the server's record
	all[len(all)-1].Body[0] = 'X'
	all[len(all)-1].Header.Set("Authorization", "changed")
	if last := s.LastRequest(); last.Body[0] != '{' || last.Header.Get("Authorization") != "Bearer sk-test" {
		t.Fatal("Requests returned shared memory")
	}
}

func TestHandlerEmbedded(t *testing.T) {
	s, _ := start(t, Options{})
	hs := newHTTPTestServer(s.Handler())
	defer hs.Close()
	resp := post(t, nil, &Server{URL: hs.URL}, hs.Client(), chatBody(true, true, ""))
	events, err := newSSE(resp.Body).all()
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sum := summarize(t, events); !sum.done || s.Stats().Streams != 1 {
		t.Fatalf("embedded handler: %+v, stats %+v", sum, s.Stats())
	}
}

func TestTextOnly(t *testing.T) {
	s, c := start(t, Options{TextOnly: true, Chunks: 20})
	tools := `,"tools":[{"type":"function","function":{"name":"Bash","parameters":{}}}]`
	resp := post(t, nil, s, c, chatBody(true, true, tools))
	events, err := newSSE(resp.Body).all()
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	sum := summarize(t, events)
	if sum.toolName != "" || sum.finish != "stop" || sum.content == "" {
		t.Fatalf("TextOnly must answer with text: %+v", sum)
	}
	var content int
	for _, ev := range events {
		if gjson.Get(ev, "choices.0.delta.content").Str != "" {
			content++
		}
	}
	if content != 20 {
		t.Fatalf("%d content chunks, want 20", content)
	}
}
