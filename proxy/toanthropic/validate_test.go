package toanthropic

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ccproxy/ccproxy/internal/sse"
)

// validate checks an Anthropic event stream against the Messages streaming
// grammar: message_start first and once; content blocks started with
// sequential indexes, one open at a time, deltas of the open block's kind,
// exactly one stop each; message_delta at most once, after all blocks closed;
// message_stop last and once; every data line valid JSON whose "type" names
// its event. With inputs set, every tool_use block's concatenated
// partial_json (or {} without deltas) must be a JSON object.
func validate(out []byte, inputs bool) error {
	rd := sse.NewReader(bytes.NewReader(out), 1<<24)
	var (
		n          int
		started    bool
		stopped    bool
		deltaSeen  bool
		next       int
		open       = -1
		openType   string
		openInput  []byte
		openDeltas int
	)
	for rd.Next() {
		n++
		name := string(rd.Event())
		var ev struct {
			Type         string          `json:"type"`
			Index        *int            `json:"index"`
			ContentBlock json.RawMessage `json:"content_block"`
			Delta        json.RawMessage `json:"delta"`
			Message      json.RawMessage `json:"message"`
		}
		if !json.Valid(rd.Data()) {
			return fmt.Errorf("event %d (%s): invalid JSON %q", n, name, rd.Data())
		}
		if err := json.Unmarshal(rd.Data(), &ev); err != nil {
			return fmt.Errorf("event %d: %w", n, err)
		}
		if ev.Type != name {
			return fmt.Errorf("event %d: event name %q but type %q", n, name, ev.Type)
		}
		if stopped {
			return fmt.Errorf("event %d (%s) after message_stop", n, name)
		}
		if !started && name != "message_start" {
			return fmt.Errorf("event %d: %s before message_start", n, name)
		}
		switch name {
		case "message_start":
			if started {
				return fmt.Errorf("event %d: second message_start", n)
			}
			started = true
			var m struct {
				ID      string          `json:"id"`
				Type    string          `json:"type"`
				Role    string          `json:"role"`
				Content json.RawMessage `json:"content"`
				Usage   *struct {
					InputTokens *int `json:"input_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal(ev.Message, &m); err != nil || m.Type != "message" || m.Role != "assistant" ||
				string(m.Content) != "[]" || len(m.ID) < 5 || m.Usage == nil || m.Usage.InputTokens == nil {
				return fmt.Errorf("event %d: bad message_start %s", n, ev.Message)
			}
		case "ping", "error":
		case "content_block_start":
			if open >= 0 {
				return fmt.Errorf("event %d: block %d started while %d open", n, *ev.Index, open)
			}
			if ev.Index == nil || *ev.Index != next {
				return fmt.Errorf("event %d: block index %v; want %d", n, ev.Index, next)
			}
			if deltaSeen {
				return fmt.Errorf("event %d: block after message_delta", n)
			}
			var cb struct {
				Type  string          `json:"type"`
				ID    string          `json:"id"`
				Input json.RawMessage `json:"input"`
			}
			if err := json.Unmarshal(ev.ContentBlock, &cb); err != nil {
				return fmt.Errorf("event %d: %w", n, err)
			}
			switch cb.Type {
			case "text", "thinking":
			case "tool_use":
				if cb.ID == "" || string(cb.Input) != "{}" {
					return fmt.Errorf("event %d: bad tool_use start %s", n, ev.ContentBlock)
				}
			default:
				return fmt.Errorf("event %d: unknown block type %q", n, cb.Type)
			}
			open, openType, openInput, openDeltas = next, cb.Type, openInput[:0], 0
			next++
		case "content_block_delta":
			if ev.Index == nil || *ev.Index != open {
				return fmt.Errorf("event %d: delta for block %v, open is %d", n, ev.Index, open)
			}
			var d struct {
				Type        string  `json:"type"`
				PartialJSON *string `json:"partial_json"`
				Text        *string `json:"text"`
				Thinking    *string `json:"thinking"`
				Signature   *string `json:"signature"`
			}
			if err := json.Unmarshal(ev.Delta, &d); err != nil {
				return fmt.Errorf("event %d: %w", n, err)
			}
			ok := false
			switch d.Type {
			case "text_delta":
				ok = openType == "text" && d.Text != nil
			case "thinking_delta":
				ok = openType == "thinking" && d.Thinking != nil
			case "signature_delta":
				ok = openType == "thinking" && d.Signature != nil && *d.Signature != ""
			case "input_json_delta":
				ok = openType == "tool_use" && d.PartialJSON != nil
				if ok {
					openInput = append(openInput, *d.PartialJSON...)
				}
			}
			if !ok {
				return fmt.Errorf("event %d: delta %s in %s block", n, ev.Delta, openType)
			}
			openDeltas++
		case "content_block_stop":
			if ev.Index == nil || *ev.Index != open {
				return fmt.Errorf("event %d: stop for block %v, open is %d", n, ev.Index, open)
			}
			if inputs && openType == "tool_use" {
				in := openInput
				if openDeltas == 0 {
					in = []byte("{}")
				}
				var obj map[string]any
				if err := json.Unmarshal(in, &obj); err != nil {
					return fmt.Errorf("event %d: tool input %q is not an object: %w", n, in, err)
				}
			}
			open = -1
		case "message_delta":
			if deltaSeen {
				return fmt.Errorf("event %d: second message_delta", n)
			}
			if open >= 0 {
				return fmt.Errorf("event %d: message_delta while block %d open", n, open)
			}
			deltaSeen = true
		case "message_stop":
			if open >= 0 {
				return fmt.Errorf("event %d: message_stop while block %d open", n, open)
			}
			stopped = true
		default:
			return fmt.Errorf("event %d: unknown event %q", n, name)
		}
	}
	if err := rd.Err(); err != nil {
		return err
	}
	if !stopped {
		return fmt.Errorf("no message_stop")
	}
	return nil
}
