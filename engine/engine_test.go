package engine

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

type flushWriter interface {
	io.WriteCloser
	Flush() error
}

func encoder(t *testing.T, coding string, w io.Writer) flushWriter {
	t.Helper()
	switch coding {
	case "gzip":
		return gzip.NewWriter(w)
	case "deflate":
		return zlib.NewWriter(w)
	case "raw-deflate":
		fw, _ := flate.NewWriter(w, flate.DefaultCompression)
		return fw
	case "br":
		return brotli.NewWriter(w)
	case "zstd":
		zw, err := zstd.NewWriter(w)
		if err != nil {
			t.Fatal(err)
		}
		return zw
	}
	t.Fatalf("no encoder for %s", coding)
	return nil
}

// TestDecoderIncremental: every flushed event is readable before the
// encoder writes anything more, for every coding.
func TestDecoderIncremental(t *testing.T) {
	for _, c := range []struct{ coding, header string }{
		{"gzip", "gzip"}, {"gzip", "x-gzip"}, {"deflate", "deflate"}, {"raw-deflate", "deflate"}, {"br", "br"}, {"zstd", "ZSTD"},
	} {
		t.Run(c.coding+"/"+c.header, func(t *testing.T) {
			pr, pw := io.Pipe()
			enc := encoder(t, c.coding, pw)
			rc, name, ok := NewDecoder(c.header, pr)
			if !ok || name == "" {
				t.Fatalf("coding %q not known", c.header)
			}
			events := []string{"data: one\n\n", "data: two\n\n", "data: three\n\n"}
			next := make(chan struct{})
			go func() {
				for _, ev := range events {
					enc.Write([]byte(ev))
					enc.Flush()
					select {
					case <-next:
					case <-time.After(10 * time.Second):
					}
				}
				enc.Close()
				pw.Close()
			}()
			for _, ev := range events {
				buf := make([]byte, len(ev))
				if _, err := io.ReadFull(rc, buf); err != nil || string(buf) != ev {
					t.Fatalf("got %q, %v; want %q before the encoder went on", buf, err, ev)
				}
				next <- struct{}{}
			}
			rest, err := io.ReadAll(rc)
			if err != nil || len(rest) != 0 {
				t.Fatalf("tail %q %v", rest, err)
			}
			rc.Close()
		})
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestDecoderEdges(t *testing.T) {
	// Identity and unknown codings.
	body := &closeRecorder{Reader: strings.NewReader("x")}
	if rc, name, ok := NewDecoder("identity", body); !ok || name != "" || rc != io.ReadCloser(body) {
		t.Fatal("identity must pass the body through")
	}
	if _, _, ok := NewDecoder("compress", body); ok {
		t.Fatal("unknown coding reported as known")
	}
	// An empty body carrying a Content-Encoding is empty, not an error.
	rc, _, _ := NewDecoder("gzip", &closeRecorder{Reader: strings.NewReader("")})
	if b, err := io.ReadAll(rc); err != nil || len(b) != 0 {
		t.Fatalf("empty gzip body: %q %v", b, err)
	}
	// A truncated stream is an error, never a clean end.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Repeat([]byte("hello "), 1000))
	zw.Close()
	cr := &closeRecorder{Reader: bytes.NewReader(buf.Bytes()[:buf.Len()/2])}
	rc, _, _ = NewDecoder("gzip", cr)
	if _, err := io.ReadAll(rc); err == nil {
		t.Fatal("truncated gzip read as complete")
	}
	rc.Close()
	if !cr.closed {
		t.Fatal("Close must close the underlying body")
	}
}

func TestRegistry(t *testing.T) {
	Register("test-engine", func(Config) (Engine, error) { return nil, errors.New("built") })
	if _, err := New("test-engine", NewConfig()); err == nil || err.Error() != "built" {
		t.Fatalf("factory not called: %v", err)
	}
	_, err := New("nope", NewConfig())
	if err == nil || !strings.Contains(err.Error(), "test-engine") || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown engine error should list engines: %v", err)
	}
	for _, bad := range []func(){
		func() { Register("test-engine", func(Config) (Engine, error) { return nil, nil }) },
		func() { Register("", func(Config) (Engine, error) { return nil, nil }) },
		func() { Register("x", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("Register must panic")
				}
			}()
			bad()
		}()
	}
}

func TestConfigDefaults(t *testing.T) {
	c := NewConfig()
	if !c.HTTP2 || c.MaxIdleConnsPerHost != 50 || c.MaxConnsPerHost != 500 || c.IdleConnTimeout != 120*time.Second ||
		c.DialTimeout != 10*time.Second || c.ResponseHeaderTimeout != 180*time.Second || c.WriteTimeout != 30*time.Second ||
		c.PoolTimeout != 10*time.Second {
		t.Fatalf("%+v", c)
	}
	c = Config{DialTimeout: time.Second}.Defaults()
	if c.DialTimeout != time.Second || c.HTTP2 {
		t.Fatal("Defaults must keep set values and leave HTTP2 alone")
	}
	if !IsTimeout(ErrIdleTimeout) || IsTimeout(ErrDial) {
		t.Fatal("IsTimeout")
	}
}

func TestDecoderCountsWireBytes(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Repeat([]byte("compressible "), 1000))
	zw.Close()
	wire := int64(buf.Len())
	rc, _, _ := NewDecoder("gzip", &closeRecorder{Reader: &buf})
	out, err := io.ReadAll(rc)
	if err != nil || len(out) != 13000 {
		t.Fatalf("%d %v", len(out), err)
	}
	if got := rc.(WireCounter).WireBytes(); got != wire {
		t.Fatalf("WireBytes %d, want %d", got, wire)
	}
}
