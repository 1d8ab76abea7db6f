package tokens

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"image/jpeg"
	"io"
	"strings"
)

// Image estimate constants; see the package documentation.
const (
	imageBaseTokens    = 85   // OpenAI high-detail base cost per image
	imageTileTokens    = 170  // OpenAI cost per 512 px tile
	imageUnknownTokens = 1600 // image whose size is unknown; above the 1,445 maximum of the tile formula
	imageMaxSide       = 2048 // images are first fit inside 2048 x 2048
	imageShortSide     = 768  // then scaled down so the short side is at most 768
	imageTile          = 512
)

// imageTokens returns the estimated token cost of a width x height image sent at
// high detail, using OpenAI's tile formula: fit inside 2048x2048, scale down so
// the shortest side is at most 768, then 85 + 170 per 512x512 tile.
func imageTokens(w, h int) int {
	if w <= 0 || h <= 0 {
		return imageUnknownTokens
	}
	fw, fh := float64(w), float64(h)
	if fw > imageMaxSide || fh > imageMaxSide {
		s := imageMaxSide / max(fw, fh)
		fw, fh = fw*s, fh*s
	}
	if short := min(fw, fh); short > imageShortSide {
		s := imageShortSide / short
		fw, fh = fw*s, fh*s
	}
	tiles := ceilDiv(int(fw+0.5), imageTile) * ceilDiv(int(fh+0.5), imageTile)
	return imageBaseTokens + imageTileTokens*tiles
}

func ceilDiv(a, b int) int {
	if a <= 0 {
		return 1
	}
	return (a + b - 1) / b
}

// base64ImageTokens estimates a base64-encoded image. It decodes only as much of
// the data as the format's header needs (PNG, GIF and WebP: a few dozen bytes;
// JPEG: up to the first SOF marker) and falls back to imageUnknownTokens when the
// format is not recognised or the header is damaged.
func base64ImageTokens(data string) int {
	w, h, ok := imageSize(data)
	if !ok {
		return imageUnknownTokens
	}
	return imageTokens(w, h)
}

// imageSize reads width and height from the header of base64 image data,
// sniffing the format from its magic bytes rather than trusting media_type.
func imageSize(data string) (w, h int, ok bool) {
	data = strings.TrimSpace(data)
	if i := strings.Index(data, ";base64,"); i >= 0 && strings.HasPrefix(data, "data:") {
		data = data[i+len(";base64,"):]
	}
	// 40 base64 characters decode to 30 bytes: enough for PNG, GIF and every WebP header.
	head := make([]byte, 0, 30)
	if n := min(len(data), 40); n > 0 {
		var err error
		head, err = decodeBase64Prefix(head, data[:n])
		if err != nil {
			return 0, 0, false
		}
	}
	switch {
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		// signature (8), IHDR length (4), "IHDR", width and height as big-endian uint32.
		if len(head) < 24 || string(head[12:16]) != "IHDR" {
			return 0, 0, false
		}
		return int(binary.BigEndian.Uint32(head[16:20])), int(binary.BigEndian.Uint32(head[20:24])), true
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		// logical screen width and height as little-endian uint16 after the signature.
		if len(head) < 10 {
			return 0, 0, false
		}
		return int(binary.LittleEndian.Uint16(head[6:8])), int(binary.LittleEndian.Uint16(head[8:10])), true
	case bytes.HasPrefix(head, []byte("\xff\xd8")):
		r := base64.NewDecoder(base64.StdEncoding, newBase64Cleaner(data))
		c, err := jpeg.DecodeConfig(r)
		if err != nil {
			return 0, 0, false
		}
		return c.Width, c.Height, true
	case len(head) >= 30 && string(head[0:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return webpSize(head)
	}
	return 0, 0, false
}

// decodeBase64Prefix decodes a prefix of standard or URL-safe base64 (its length
// trimmed to a multiple of 4), appending to dst.
func decodeBase64Prefix(dst []byte, s string) ([]byte, error) {
	s = s[:len(s)/4*4]
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	n, err := enc.Decode(dst[:cap(dst)], []byte(s))
	return dst[:n], err
}

// newBase64Cleaner returns the data as a reader, translating URL-safe base64 to
// standard on the fly so one decoder handles both.
func newBase64Cleaner(data string) io.Reader {
	if strings.ContainsAny(data, "-_") {
		data = strings.NewReplacer("-", "+", "_", "/").Replace(data)
	}
	return strings.NewReader(data)
}

// webpSize reads the canvas size from a WebP header (lossy VP8, lossless VP8L or
// extended VP8X); head holds at least the first 30 bytes.
func webpSize(head []byte) (int, int, bool) {
	switch string(head[12:16]) {
	case "VP8 ":
		// frame tag (3) + start code 9d 01 2a (3), then 14-bit width and height.
		if head[23] != 0x9d || head[24] != 0x01 || head[25] != 0x2a {
			return 0, 0, false
		}
		w := int(binary.LittleEndian.Uint16(head[26:28]) & 0x3fff)
		h := int(binary.LittleEndian.Uint16(head[28:30]) & 0x3fff)
		return w, h, true
	case "VP8L":
		if head[20] != 0x2f {
			return 0, 0, false
		}
		b := head[21:25]
		w := 1 + (int(b[0]) | int(b[1]&0x3f)<<8)
		h := 1 + (int(b[1])>>6 | int(b[2])<<2 | int(b[3]&0x0f)<<10)
		return w, h, true
	case "VP8X":
		w := 1 + (int(head[24]) | int(head[25])<<8 | int(head[26])<<16)
		h := 1 + (int(head[27]) | int(head[28])<<8 | int(head[29])<<16)
		return w, h, true
	}
	return 0, 0, false
}
