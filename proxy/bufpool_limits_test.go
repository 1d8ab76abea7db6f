package proxy

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/internal/bufpool"
)

// TestHugeContentLengthRefused: a Content-Length far beyond
// MAX_REQUEST_BYTES is answered 413 without reading the body, on every
// route that reads one. getBuf used to allocate a buffer of the announced
// size before readBody refused it: a makeslice panic for this one (the
// connection dropped, no answer), and for a merely large one (a few GB)
// an allocation the process may not survive.
func TestHugeContentLengthRefused(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, nil)
	for _, path := range []string{"/v1/messages", "/v1/messages/count_tokens", "/v1/chat/completions"} {
		t.Run(strings.TrimPrefix(path, "/v1/"), func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(r.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second)) // a hang guard
			cl := int64(1) << 50
			req := "POST " + path + " HTTP/1.1\r\nHost: ccproxy\r\nContent-Type: application/json\r\n" +
				"Content-Length: " + strconv.FormatInt(cl, 10) + "\r\n\r\n{\"model\":"
			if _, err := conn.Write([]byte(req)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer to a Content-Length of %d: %v", cl, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413", resp.StatusCode)
			}
		})
	}
	if s := r.H.large.Stats(); s.InUse != 0 {
		t.Fatalf("large buffers still in use: %+v", s)
	}
}

// TestGetBufFitsBody: the buffer getBuf(n) returns for a body of n bytes
// holds it plus the byte readBody needs to see the end without growing,
// so readBody never replaces it with a heap slice; bodyWeight counts
// exactly that buffer, whatever the length.
func TestGetBufFitsBody(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, nil)
	h := r.H
	for _, n := range []int64{-1, 0, 1, smallBuf - 1, smallBuf, largeBuf - 1, largeBuf, largeBuf + 1,
		96<<10 - 1, 96 << 10, bufpool.MaxSize - 1, bufpool.MaxSize, bufpool.MaxSize + 1, 3 << 20} {
		b := h.getBuf(n)
		if len(*b) != 0 {
			t.Errorf("getBuf(%d): len %d, want 0", n, len(*b))
		}
		c := int64(cap(*b))
		if n >= 0 && c < n+1 {
			t.Errorf("getBuf(%d): cap %d, readBody would replace it (needs %d)", n, c, n+1)
		}
		if n < 0 && c != largeBuf {
			t.Errorf("getBuf(-1): cap %d, want %d", c, largeBuf)
		}
		if w := bodyWeight(n); w != c && !(n >= 0 && n < smallBuf && w == smallBuf) {
			t.Errorf("bodyWeight(%d) = %d, but getBuf(%d) holds %d", n, w, n, c)
		}
		h.putBuf(b, *b)
	}
	if s := h.large.Stats(); s.InUse != 0 {
		t.Fatalf("large buffers still in use: %+v", s)
	}
}

// TestGetBufIgnoresRefusedLength: getBuf allocates nothing near a length
// MAX_REQUEST_BYTES refuses.
func TestGetBufIgnoresRefusedLength(t *testing.T) {
	r := newRig(t, "nethttp", fakeupstream.Options{}, nil)
	b := r.H.getBuf(r.H.cfg.MaxRequestBytes + 1)
	if cap(*b) > largeBuf {
		t.Fatalf("getBuf(MaxRequestBytes+1): cap %d, a buffer for a body readBody refuses", cap(*b))
	}
	r.H.putBuf(b, *b)
}
