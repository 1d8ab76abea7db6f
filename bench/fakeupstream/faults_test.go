package fakeupstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

func TestFaultStatusFIFO(t *testing.T) {
	s, c := start(t, Options{})
	s.InjectFaults(
		Fault{Kind: Status, Status: 429, RetryAfter: "7"},
		Fault{Kind: Status, Status: 503, Body: `{"error":{"message":"custom","type":"overloaded"}}`},
		Fault{Kind: Status},
	)
	if s.PendingFaults() != 3 {
		t.Fatalf("pending %d", s.PendingFaults())
	}
	want := []int{429, 503, 500, 200}
	for i, w := range want {
		resp := post(t, nil, s, c, chatBody(false, false, ""))
		b := readAll(t, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != w {
			t.Fatalf("request %d: status %d, want %d: %s", i, resp.StatusCode, w, b)
		}
		switch i {
		case 0:
			if resp.Header.Get("Retry-After") != "7" || gjson.GetBytes(b, "error.code").Str != "rate_limit_exceeded" {
				t.Fatalf("429: %v %s", resp.Header, b)
			}
		case 1:
			if string(b) != `{"error":{"message":"custom","type":"overloaded"}}` {
				t.Fatalf("custom body: %s", b)
			}
		case 2:
			if gjson.GetBytes(b, "error.type").Str != "server_error" {
				t.Fatalf("500 body: %s", b)
			}
		}
	}
	if s.PendingFaults() != 0 {
		t.Fatalf("pending %d", s.PendingFaults())
	}
}

func TestFaultResets(t *testing.T) {
	for _, p := range protocols {
		t.Run(string(p.proto), func(t *testing.T) {
			s, c := start(t, Options{Protocol: p.proto})

			s.InjectFaults(Fault{Kind: ResetBeforeHeaders})
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/chat/completions", strings.NewReader(chatBody(true, false, "")))
			req.Header.Set("Authorization", "Bearer k")
			if resp, err := c.Do(req); err == nil {
				resp.Body.Close()
				t.Fatalf("ResetBeforeHeaders: got status %d", resp.StatusCode)
			}

			s.InjectFaults(Fault{Kind: ResetMidStream, AfterChunks: 3})
			resp := post(t, nil, s, c, chatBody(true, false, ""))
			events, err := newSSE(resp.Body).all()
			resp.Body.Close()
			if err == nil || len(events) != 3 {
				t.Fatalf("ResetMidStream: %d events, err %v", len(events), err)
			}

			s.InjectFaults(Fault{Kind: ResetMidStream})
			resp = post(t, nil, s, c, chatBody(false, false, ""))
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil || gjson.ValidBytes(b) {
				t.Fatalf("unary ResetMidStream: err %v, body %s", err, b)
			}

			// the server still works afterwards
			resp = post(t, nil, s, c, chatBody(true, false, ""))
			events, err = newSSE(resp.Body).all()
			resp.Body.Close()
			if err != nil || !summarize(t, events).done {
				t.Fatalf("after resets: %v", err)
			}
			if st := s.Stats(); st.Canceled != 0 || st.ByProto[p.want] != 4 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestFaultStreamShapes(t *testing.T) {
	s, c := start(t, Options{Chunks: 4})
	run := func(f Fault) ([]string, error) {
		t.Helper()
		s.InjectFaults(f)
		resp := post(t, nil, s, c, chatBody(true, true, ""))
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return newSSE(resp.Body).all()
	}

	events, err := run(Fault{Kind: Truncate, AfterChunks: 3})
	if err != nil || len(events) != 3 {
		t.Fatalf("Truncate: %d events, %v", len(events), err)
	}
	if sum := summarize(t, events); sum.done || sum.finish != "" || sum.usage.Exists() {
		t.Fatalf("Truncate sent an ending: %+v", sum)
	}

	events, err = run(Fault{Kind: MalformedChunk, AfterChunks: 2})
	if err != nil || len(events) < 3 || events[2] != "{not json" {
		t.Fatalf("MalformedChunk: %q %v", events, err)
	}
	rest := append(events[:2:2], events[3:]...)
	if sum := summarize(t, rest); !sum.done || sum.finish != "stop" {
		t.Fatalf("MalformedChunk should carry on: %+v", sum)
	}

	events, err = run(Fault{Kind: StreamError, AfterChunks: 2, Body: "boom"})
	if err != nil || len(events) != 3 {
		t.Fatalf("StreamError: %q %v", events, err)
	}
	if e := gjson.Parse(events[2]); e.Get("error.message").Str != "boom" || e.Get("error.type").Str != "server_error" {
		t.Fatalf("StreamError event %s", events[2])
	}

	// past the end: acts just before [DONE]
	events, err = run(Fault{Kind: Truncate, AfterChunks: 1000})
	if err != nil || summarize(t, events).done || !summarize(t, events).usage.Exists() {
		t.Fatalf("Truncate past the end: %q %v", events, err)
	}

	// unary shapes
	for _, tc := range []struct {
		f     Fault
		check func(b []byte) bool
	}{
		{Fault{Kind: MalformedChunk}, func(b []byte) bool { return string(b) == "{not json" }},
		{Fault{Kind: StreamError, Body: "bad"}, func(b []byte) bool { return gjson.GetBytes(b, "error.message").Str == "bad" }},
		{Fault{Kind: Truncate}, func(b []byte) bool { return len(b) > 10 && !gjson.ValidBytes(b) }},
		{Fault{Kind: Stall, Delay: time.Millisecond}, func(b []byte) bool { return gjson.GetBytes(b, "object").Str == "chat.completion" }},
	} {
		s.InjectFaults(tc.f)
		resp := post(t, nil, s, c, chatBody(false, false, ""))
		b := readAll(t, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !tc.check(b) {
			t.Errorf("unary %v: %d %s", tc.f.Kind, resp.StatusCode, b)
		}
	}
}

func TestFaultDelays(t *testing.T) {
	s, c := start(t, Options{})

	// SlowHeaders: no headers while the delay runs; the client gives up.
	s.InjectFaults(Fault{Kind: SlowHeaders, Delay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/v1/chat/completions", strings.NewReader(chatBody(true, false, "")))
		req.Header.Set("Authorization", "Bearer k")
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			err = errors.New("headers arrived")
		}
		got <- err
	}()
	waitFor(t, "the request to arrive", func() bool { return s.Stats().Requests == 1 })
	select {
	case err := <-got:
		t.Fatalf("before cancel: %v", err)
	default:
	}
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("SlowHeaders: %v", err)
	}
	waitFor(t, "Canceled", func() bool { return s.Stats().Canceled == 1 })

	// a short SlowHeaders is followed by a normal answer
	s.InjectFaults(Fault{Kind: SlowHeaders, Delay: time.Millisecond})
	resp := post(t, nil, s, c, chatBody(true, false, ""))
	events, err := newSSE(resp.Body).all()
	resp.Body.Close()
	if err != nil || !summarize(t, events).done {
		t.Fatalf("short SlowHeaders: %v", err)
	}

	// Stall: the stream stops after AfterChunks events until the client
	// leaves (without the stall this 22-event stream would finish at once
	// and nothing would count as canceled).
	s.InjectFaults(Fault{Kind: Stall, AfterChunks: 2, Delay: time.Hour})
	resp = post(t, bounded(t), s, c, chatBody(true, false, ""))
	r := newSSE(resp.Body)
	for i := range 2 {
		if _, err := r.next(); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	resp.Body.Close()
	waitFor(t, "Canceled", func() bool { return s.Stats().Canceled == 2 })

	// a short Stall carries on to the end
	s.InjectFaults(Fault{Kind: Stall, AfterChunks: 2, Delay: time.Millisecond})
	resp = post(t, nil, s, c, chatBody(true, false, ""))
	events, err = newSSE(resp.Body).all()
	resp.Body.Close()
	if err != nil || !summarize(t, events).done || len(events) != 1+DefaultChunks+1+1 {
		t.Fatalf("short Stall: %d events, %v", len(events), err)
	}
}
