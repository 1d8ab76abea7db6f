package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

type ev struct{ name, data string }

func readAll(t *testing.T, r io.Reader, max int) ([]ev, error) {
	t.Helper()
	rd := NewReader(r, max)
	var out []ev
	for rd.Next() {
		out = append(out, ev{string(rd.Event()), string(rd.Data())})
	}
	return out, rd.Err()
}

func TestReaderTable(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []ev
	}{
		{"lf", "data: a\n\ndata: b\n\n", []ev{{"", "a"}, {"", "b"}}},
		{"crlf", "event: x\r\ndata: a\r\n\r\n", []ev{{"x", "a"}}},
		{"cr", "event: x\rdata: a\r\rdata: b\r\r", []ev{{"x", "a"}, {"", "b"}}},
		{"no space after colon", "data:a\nevent:e\n\n", []ev{{"e", "a"}}},
		{"only one space stripped", "data:  a\n\n", []ev{{"", " a"}}},
		{"multi-line data", "data: a\ndata: b\ndata:\n\n", []ev{{"", "a\nb\n"}}},
		{"comments id retry", ": hi\nid: 7\nretry: 100\ndata: a\n: x\n\n", []ev{{"", "a"}}},
		{"comment-only block skipped", ": keepalive\n\ndata: a\n\n", []ev{{"", "a"}}},
		{"event without data skipped", "event: ping\n\ndata: a\n\n", []ev{{"", "a"}}},
		{"empty data line dispatches", "data\n\n", []ev{{"", ""}}},
		{"unknown field ignored", "foo: bar\ndata: a\n\n", []ev{{"", "a"}}},
		{"final event without blank line", "data: a\n\ndata: b\n", []ev{{"", "a"}, {"", "b"}}},
		{"final line without terminator", "data: a\n\ndata: b", []ev{{"", "a"}, {"", "b"}}},
		{"colon in value", "data: {\"a\":1}\n\n", []ev{{"", `{"a":1}`}}},
		{"blank lines between", "\n\n\r\ndata: a\n\n\n", []ev{{"", "a"}}},
		{"empty input", "", nil},
		{"openai done", "data: {\"x\":1}\n\ndata: [DONE]\n\n", []ev{{"", `{"x":1}`}, {"", "[DONE]"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whole input at once, and one byte per Read (splits every
			// terminator, including "\r" | "\n").
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				got, err := readAll(t, r, 1024)
				if err != nil {
					t.Fatalf("err = %v; want nil", err)
				}
				if !equalEvents(got, tt.want) {
					t.Fatalf("got %q; want %q", got, tt.want)
				}
			}
		})
	}
}

func equalEvents(a, b []ev) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReaderTooLarge(t *testing.T) {
	// One line longer than the limit.
	in := "data: " + strings.Repeat("x", 100) + "\n\n"
	_, err := readAll(t, strings.NewReader(in), 50)
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("long line: err = %v; want ErrEventTooLarge", err)
	}
	// Short lines whose joined data exceed the limit.
	in = strings.Repeat("data: 0123456789\n", 10) + "\n"
	_, err = readAll(t, strings.NewReader(in), 50)
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("many lines: err = %v; want ErrEventTooLarge", err)
	}
	// Exactly at the limit is fine, and the buffer grows beyond its initial size.
	in = "data: " + strings.Repeat("y", 10000) + "\r\n\r\n"
	got, err := readAll(t, strings.NewReader(in), 10006)
	if err != nil || len(got) != 1 || len(got[0].data) != 10000 {
		t.Fatalf("at limit: got %d events, err %v", len(got), err)
	}
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: partial"), iotest.ErrReader(boom))
	got, err := readAll(t, r, 1024)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v; want boom", err)
	}
	if !equalEvents(got, []ev{{"", "a"}}) {
		t.Fatalf("got %q; want only the complete event", got)
	}
	// Bytes that arrive together with an error are parsed before it is reported.
	got, err = readAll(t, iotest.DataErrReader(strings.NewReader("data: a\n\n")), 1024)
	if err != nil || !equalEvents(got, []ev{{"", "a"}}) {
		t.Fatalf("data+EOF: got %q err %v", got, err)
	}
}

// TestReaderDoesNotWait proves Next returns an event as soon as its blank
// line is in, without reading further: the writer sends the next event only
// after the reader has delivered the previous one.
func TestReaderDoesNotWait(t *testing.T) {
	pr, pw := io.Pipe()
	ack := make(chan struct{})
	go func() {
		defer pw.Close()
		for _, chunk := range []string{"data: 1\r\n\r", "\ndata: 2\n\n", "data: 3\r\r"} {
			if _, err := pw.Write([]byte(chunk)); err != nil {
				return
			}
			select {
			case <-ack:
			case <-time.After(10 * time.Second): // hang guard only
				return
			}
		}
	}()
	rd := NewReader(pr, 1024)
	for i, want := range []string{"1", "2", "3"} {
		if !rd.Next() {
			t.Fatalf("event %d: Next = false, err %v", i, rd.Err())
		}
		if string(rd.Data()) != want {
			t.Fatalf("event %d: data %q; want %q", i, rd.Data(), want)
		}
		ack <- struct{}{}
	}
	if rd.Next() || rd.Err() != nil {
		t.Fatalf("after last: Next true or err %v", rd.Err())
	}
}

func TestReaderReset(t *testing.T) {
	rd := NewReader(strings.NewReader("event: a\ndata: x\n\ndata: partial-no-end"), 0)
	if !rd.Next() || string(rd.Event()) != "a" {
		t.Fatal("first stream")
	}
	rd.Reset(strings.NewReader("data: y\n\n"))
	if !rd.Next() || string(rd.Data()) != "y" || len(rd.Event()) != 0 {
		t.Fatalf("after Reset: event %q data %q", rd.Event(), rd.Data())
	}
	if rd.Next() {
		t.Fatal("stale data after Reset")
	}
}

func TestAppendEvent(t *testing.T) {
	got := string(AppendEvent(nil, []byte("message_stop"), []byte("a\r\nb\rc\n")))
	want := "event: message_stop\ndata: a\ndata: b\ndata: c\ndata: \n\n"
	if got != want {
		t.Fatalf("got %q; want %q", got, want)
	}
	if got := string(AppendEvent(nil, nil, []byte("x"))); got != "data: x\n\n" {
		t.Fatalf("no name: got %q", got)
	}
}

func normalizeNewlines(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("event: x\r\ndata: a\r\n\r\n"), []byte("msg"), []byte("hello\nworld"))
	f.Add([]byte("data:a\rdata\r\r: c\n"), []byte(""), []byte(""))
	f.Add([]byte("\r\r\n\n"), []byte("e:v"), []byte("\r\n\r"))
	f.Fuzz(func(t *testing.T, raw, name, data []byte) {
		// Arbitrary bytes: no panic, limit honoured.
		rd := NewReader(bytes.NewReader(raw), 64)
		for rd.Next() {
			if len(rd.Data()) > 64 {
				t.Fatalf("data of %d bytes over limit", len(rd.Data()))
			}
		}
		// Round trip through AppendEvent, also one byte per Read.
		if bytes.ContainsAny(name, "\r\n") {
			return
		}
		wire := AppendEvent(nil, name, data)
		wire = AppendEvent(wire, nil, []byte("end"))
		for _, r := range []io.Reader{bytes.NewReader(wire), iotest.OneByteReader(bytes.NewReader(wire))} {
			rd := NewReader(r, 1<<20)
			if !rd.Next() {
				t.Fatalf("no event from %q: %v", wire, rd.Err())
			}
			if !bytes.Equal(rd.Event(), name) || !bytes.Equal(rd.Data(), normalizeNewlines(data)) {
				t.Fatalf("wire %q: got event %q data %q", wire, rd.Event(), rd.Data())
			}
			if !rd.Next() || string(rd.Data()) != "end" || rd.Next() || rd.Err() != nil {
				t.Fatalf("wire %q: second event wrong", wire)
			}
		}
	})
}

func TestNextBuffered(t *testing.T) {
	pr, pw := io.Pipe()
	rd := NewReader(pr, 0)
	go pw.Write([]byte("data: a\n\ndata: b\n\n: comment\n\ndata: c"))
	if !rd.Next() || string(rd.Data()) != "a" {
		t.Fatal("first event")
	}
	if !rd.NextBuffered() || string(rd.Data()) != "b" {
		t.Fatal("second event was buffered")
	}
	// The comment block has no data and "data: c" is incomplete: nothing
	// more without a read, and NextBuffered must not block.
	if rd.NextBuffered() {
		t.Fatalf("unexpected event %q", rd.Data())
	}
	go func() { pw.Write([]byte("\n\n")); pw.Close() }()
	if !rd.Next() || string(rd.Data()) != "c" {
		t.Fatalf("third event after more bytes: %q", rd.Data())
	}
	if rd.Next() || rd.Err() != nil {
		t.Fatal("end")
	}
}
