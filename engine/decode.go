package engine

import (
	"io"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// AcceptEncoding is what engines offer upstream when the caller did not set
// Accept-Encoding itself.
const AcceptEncoding = "gzip, deflate, br, zstd"

// NewDecoder wraps body so that reads return it with the content coding
// removed. coding is a Content-Encoding value; "" and "identity" return body
// unchanged, and ok reports whether the coding is one NewDecoder knows
// (gzip, x-gzip, deflate, br, zstd). The decoder is created lazily on the
// first Read, so wrapping never blocks on the network, and it decodes
// incrementally: every byte that the upstream flushed becomes readable
// without waiting for the end of the body. Close closes body.
func NewDecoder(coding string, body io.ReadCloser) (rc io.ReadCloser, name string, ok bool) {
	c := strings.ToLower(strings.TrimSpace(coding))
	switch c {
	case "", "identity":
		return body, "", true
	case "gzip", "x-gzip":
		c = "gzip"
	case "deflate", "br", "zstd":
	default:
		return body, "", false
	}
	d := &decoder{coding: c, body: body}
	d.src.r = body
	return d, c, true
}

// WireCounter is implemented by bodies an engine decoded: WireBytes is the
// number of bytes, still coded, read from the upstream so far. Metrics use
// it for compression ratios.
type WireCounter interface {
	WireBytes() int64
}

type decoder struct {
	coding string
	body   io.ReadCloser
	src    countingReader // body, counted: what the decompressor reads
	r      io.Reader
	close  func()
	err    error
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// WireBytes implements WireCounter.
func (d *decoder) WireBytes() int64 { return d.src.n }

func (d *decoder) init() error {
	switch d.coding {
	case "gzip":
		zr, err := gzip.NewReader(&d.src)
		if err != nil {
			return err
		}
		zr.Multistream(true)
		d.r = zr
	case "deflate":
		// HTTP's "deflate" is zlib-wrapped, but some servers send raw
		// deflate: peek at the header to tell them apart.
		br := &peekReader{r: &d.src}
		if br.zlibHeader() {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return err
			}
			d.r = zr
		} else {
			d.r = flate.NewReader(br)
		}
	case "br":
		d.r = brotli.NewReader(&d.src)
	case "zstd":
		zr, err := zstd.NewReader(&d.src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return err
		}
		d.r = zr
		d.close = zr.Close
	}
	return nil
}

func (d *decoder) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.r == nil {
		if err := d.init(); err != nil {
			// io.EOF before any byte: an empty body that merely carries a
			// Content-Encoding header (HEAD, 204, Content-Length: 0).
			d.err = err
			return 0, err
		}
	}
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF {
		d.err = err
	}
	return n, err
}

func (d *decoder) Close() error {
	if d.close != nil {
		d.close()
		d.close = nil
	}
	return d.body.Close()
}

// peekReader lets the deflate decoder look at the first two bytes.
type peekReader struct {
	r    io.Reader
	head []byte
}

func (p *peekReader) zlibHeader() bool {
	var b [2]byte
	n, _ := io.ReadFull(p.r, b[:])
	p.head = b[:n]
	if n < 2 {
		return false
	}
	// RFC 1950: CM=8, CINFO<=7, and the 16-bit header is a multiple of 31.
	return b[0]&0x0f == 8 && b[0]>>4 <= 7 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0
}

func (p *peekReader) Read(b []byte) (int, error) {
	if len(p.head) > 0 {
		n := copy(b, p.head)
		p.head = p.head[n:]
		return n, nil
	}
	return p.r.Read(b)
}

// ReadByte makes peekReader an io.ByteReader, so flate does not wrap it in
// a bufio.Reader that would read ahead past what was flushed.
func (p *peekReader) ReadByte() (byte, error) {
	var b [1]byte
	_, err := io.ReadFull(p, b[:])
	return b[0], err
}
