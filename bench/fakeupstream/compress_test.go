package fakeupstream

import (
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/tidwall/gjson"
)

func TestCompression(t *testing.T) {
	for _, coding := range []string{"gzip", "deflate", "br", "zstd"} {
		t.Run(coding, func(t *testing.T) {
			s, c := start(t, Options{Compression: coding})

			// stream
			resp := post(t, nil, s, c, chatBody(true, true, ""), "Accept-Encoding", coding)
			if ce := resp.Header.Get("Content-Encoding"); ce != coding {
				t.Fatalf("Content-Encoding %q", ce)
			}
			body, _, ok := engine.NewDecoder(resp.Header.Get("Content-Encoding"), resp.Body)
			if !ok {
				t.Fatal("unknown coding")
			}
			events, err := newSSE(body).all()
			body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if sum := summarize(t, events); !sum.done || !sum.usage.Exists() || sum.finish != "stop" {
				t.Fatalf("decoded stream %+v", sum)
			}

			// unary
			resp = post(t, nil, s, c, chatBody(false, false, ""), "Accept-Encoding", coding)
			body, _, _ = engine.NewDecoder(resp.Header.Get("Content-Encoding"), resp.Body)
			b := readAll(t, body)
			body.Close()
			if gjson.GetBytes(b, "object").Str != "chat.completion" {
				t.Fatalf("decoded unary %q", b)
			}

			// each event is flushed through the compressor: the first one
			// decodes while the next is an hour away
			s.SetOptions(func(o *Options) { o.ChunkInterval = time.Hour })
			resp = post(t, bounded(t), s, c, chatBody(true, false, ""), "Accept-Encoding", coding)
			body, _, _ = engine.NewDecoder(resp.Header.Get("Content-Encoding"), resp.Body)
			ev, err := newSSE(body).next()
			if err != nil || gjson.Get(ev, "choices.0.delta.role").Str != "assistant" {
				t.Fatalf("first compressed event %q %v", ev, err)
			}
			body.Close()
			waitFor(t, "Canceled", func() bool { return s.Stats().Canceled == 1 })
		})
	}
}

func TestCompressionAuto(t *testing.T) {
	s, c := start(t, Options{Compression: "auto"})
	for _, tc := range []struct{ ae, want string }{
		{"", ""},
		{"identity", ""},
		{"gzip, deflate, br, zstd", "zstd"},
		{"gzip, br", "br"},
		{"deflate;q=0.5, gzip", "gzip"},
		{"zstd;q=0, deflate", "deflate"},
	} {
		hdr := []string{"Accept-Encoding", tc.ae}
		if tc.ae == "" {
			hdr = nil
		}
		resp := post(t, nil, s, c, chatBody(true, false, ""), hdr...)
		if ce := resp.Header.Get("Content-Encoding"); ce != tc.want {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", tc.ae, ce, tc.want)
		}
		body, _, _ := engine.NewDecoder(resp.Header.Get("Content-Encoding"), resp.Body)
		events, err := newSSE(body).all()
		body.Close()
		if err != nil || !summarize(t, events).done {
			t.Errorf("Accept-Encoding %q: %v", tc.ae, err)
		}
	}
}
