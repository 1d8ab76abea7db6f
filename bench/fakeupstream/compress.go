package fakeupstream

import (
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// compressor is the part of the gzip, zlib, brotli and zstd writers the
// server uses.
type compressor interface {
	io.WriteCloser
	Flush() error
	Reset(io.Writer)
}

// encoders pools one kind of compressor per coding.
type encoders struct {
	gzip, deflate, br, zstd sync.Pool
}

func (e *encoders) init() {
	e.gzip.New = func() any {
		w, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression)
		return compressor(w)
	}
	e.deflate.New = func() any {
		w, _ := zlib.NewWriterLevel(io.Discard, zlib.DefaultCompression)
		return compressor(w)
	}
	e.br.New = func() any { return compressor(brotli.NewWriterLevel(io.Discard, 4)) }
	e.zstd.New = func() any {
		w, _ := zstd.NewWriter(io.Discard, zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithWindowSize(1<<20))
		return compressor(w)
	}
}

func (e *encoders) pool(coding string) *sync.Pool {
	switch coding {
	case "gzip":
		return &e.gzip
	case "deflate":
		return &e.deflate
	case "br":
		return &e.br
	case "zstd":
		return &e.zstd
	}
	return nil
}

// get returns a compressor for coding writing to w.
func (e *encoders) get(coding string, w io.Writer) compressor {
	c := e.pool(coding).Get().(compressor)
	c.Reset(w)
	return c
}

func (e *encoders) put(coding string, c compressor) {
	c.Reset(io.Discard)
	e.pool(coding).Put(c)
}

// chooseCoding returns the coding to use for a response: the forced one,
// or for "auto" the best one acceptEncoding allows (zstd > br > gzip >
// deflate), or "" for none.
func chooseCoding(mode, acceptEncoding string) string {
	if mode != "auto" {
		return mode
	}
	var zs, br, gz, df, any bool
	for rest := acceptEncoding; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if q, ok := qValue(params); ok && q == 0 {
			continue
		}
		switch name {
		case "zstd":
			zs = true
		case "br":
			br = true
		case "gzip", "x-gzip":
			gz = true
		case "deflate":
			df = true
		case "*":
			any = true
		}
	}
	switch {
	case zs || any:
		return "zstd"
	case br:
		return "br"
	case gz:
		return "gzip"
	case df:
		return "deflate"
	}
	return ""
}

// qValue parses "q=0.5" out of Accept-Encoding parameters.
func qValue(params string) (float64, bool) {
	for rest := params; rest != ""; {
		var p string
		p, rest, _ = strings.Cut(rest, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return q, err == nil
		}
	}
	return 0, false
}
