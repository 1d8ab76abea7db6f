package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// event is one server-sent event.
type event struct {
	Name string
	Data string
}

// readSSE reads a whole SSE body. limit > 0 stops after that many events
// (client disconnects); the events read so far are returned either way.
func readSSE(r io.Reader, limit int) ([]event, error) {
	var evs []event
	br := bufio.NewReaderSize(r, 64<<10)
	var cur event
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF && line == "" && cur.Name == "" && cur.Data == "" {
				return evs, nil
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return evs, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if cur.Name != "" || cur.Data != "" {
				evs = append(evs, cur)
				if limit > 0 && len(evs) >= limit {
					return evs, nil
				}
			}
			cur = event{}
		case strings.HasPrefix(line, "event:"):
			cur.Name = strings.TrimSpace(line[6:])
		case strings.HasPrefix(line, "data:"):
			cur.Data += strings.TrimSpace(line[5:])
		}
	}
}

// checkGrammar checks Anthropic's streaming grammar: message_start first,
// content blocks opened, indexed and closed in order, at most one
// message_delta with no block open, message_stop last. It reports whether
// the stream carried an error event.
func checkGrammar(evs []event) (sawError bool, err error) {
	if len(evs) == 0 {
		return false, errors.New("no events")
	}
	open, next, deltas := -1, 0, 0
	for i, ev := range evs {
		var m struct {
			Type  string `json:"type"`
			Index *int   `json:"index"`
		}
		if err := json.Unmarshal([]byte(ev.Data), &m); err != nil {
			return sawError, fmt.Errorf("event %d (%s): data is not JSON: %w", i, ev.Name, err)
		}
		if m.Type != ev.Name {
			return sawError, fmt.Errorf("event %d: name %q, data type %q", i, ev.Name, m.Type)
		}
		idx := -2
		if m.Index != nil {
			idx = *m.Index
		}
		switch ev.Name {
		case "message_start":
			if i != 0 {
				return sawError, fmt.Errorf("message_start at %d", i)
			}
		case "content_block_start":
			if open != -1 || idx != next {
				return sawError, fmt.Errorf("event %d: block %d started (open %d, next %d)", i, idx, open, next)
			}
			open = next
			next++
		case "content_block_delta":
			if idx != open || open < 0 {
				return sawError, fmt.Errorf("event %d: delta for block %d while %d open", i, idx, open)
			}
		case "content_block_stop":
			if idx != open || open < 0 {
				return sawError, fmt.Errorf("event %d: stop for block %d while %d open", i, idx, open)
			}
			open = -1
		case "message_delta":
			if open != -1 || deltas > 0 {
				return sawError, fmt.Errorf("event %d: message_delta with a block open or twice", i)
			}
			deltas++
		case "message_stop":
			if i != len(evs)-1 {
				return sawError, fmt.Errorf("message_stop at %d of %d", i, len(evs))
			}
		case "error":
			sawError = true
		case "ping":
		default:
			return sawError, fmt.Errorf("event %d: unknown event %q", i, ev.Name)
		}
	}
	if evs[0].Name != "message_start" || evs[len(evs)-1].Name != "message_stop" {
		return sawError, fmt.Errorf("stream from %s to %s", evs[0].Name, evs[len(evs)-1].Name)
	}
	return sawError, nil
}

// errorEnvelope decodes Anthropic's error envelope.
func errorEnvelope(b []byte) (typ, msg string, err error) {
	var e struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Type != "error" || e.Error.Type == "" || e.Error.Message == "" {
		return "", "", fmt.Errorf("not an Anthropic error envelope: %.300s", b)
	}
	return e.Error.Type, e.Error.Message, nil
}
