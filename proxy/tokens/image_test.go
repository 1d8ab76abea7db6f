package tokens

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"testing"
)

func TestImageTokens(t *testing.T) {
	cases := []struct{ w, h, want int }{
		{1024, 1024, 765},  // OpenAI docs: scaled to 768x768, 4 tiles
		{2048, 4096, 1105}, // OpenAI docs: 1024x2048 -> 768x1536, 6 tiles
		{512, 512, 255},
		{513, 512, 425},
		{600, 400, 425},
		{100, 50, 255},
		{3000, 1000, 1445}, // 2048x683: 4x2 tiles, the maximum
		{768, 2048, 1445},
		{4096, 4096, 765},
		{0, 10, imageUnknownTokens},
	}
	for _, tc := range cases {
		if got := imageTokens(tc.w, tc.h); got != tc.want {
			t.Errorf("imageTokens(%d, %d) = %d, want %d", tc.w, tc.h, got, tc.want)
		}
		if got := imageTokens(tc.w, tc.h); got > imageUnknownTokens {
			t.Errorf("imageTokens(%d, %d) = %d exceeds the unknown-size constant", tc.w, tc.h, got)
		}
	}
}

func TestImageSize(t *testing.T) {
	var gifBuf, jpegBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, image.NewPaletted(image.Rect(0, 0, 10, 7), color.Palette{color.Black, color.White}), nil); err != nil {
		t.Fatal(err)
	}
	// A JPEG with a large APP segment before SOF: the size is found past it.
	if err := jpeg.Encode(&jpegBuf, image.NewGray(image.Rect(0, 0, 1200, 900)), nil); err != nil {
		t.Fatal(err)
	}
	jpg := jpegBuf.Bytes()
	app := append([]byte{0xff, 0xe1, 0xff, 0xff}, make([]byte, 0xffff-2)...)
	jpgWithApp := append(append(append([]byte{}, jpg[:2]...), app...), jpg[2:]...)

	vp8l := webpHeader("VP8L")
	vp8l[20] = 0x2f
	binary.LittleEndian.PutUint32(vp8l[21:], uint32(1023)|uint32(699)<<14)
	vp8x := webpHeader("VP8X")
	vp8x[24], vp8x[25], vp8x[26] = byte(1599&0xff), byte(1599>>8), 0
	vp8x[27], vp8x[28], vp8x[29] = byte(1199&0xff), byte(1199>>8), 0
	vp8 := webpHeader("VP8 ")
	copy(vp8[23:], []byte{0x9d, 0x01, 0x2a})
	binary.LittleEndian.PutUint16(vp8[26:], 640)
	binary.LittleEndian.PutUint16(vp8[28:], 480)

	cases := []struct {
		name   string
		data   string
		w, h   int
		wantOK bool
	}{
		{"png", b64(pngBytes(t, 600, 400)), 600, 400, true},
		{"png data url", "data:image/png;base64," + b64(pngBytes(t, 33, 44)), 33, 44, true},
		{"png url-safe", base64.URLEncoding.EncodeToString(pngBytes(t, 1000, 31)), 1000, 31, true},
		{"gif", b64(gifBuf.Bytes()), 10, 7, true},
		{"jpeg", b64(jpg), 1200, 900, true},
		{"jpeg with 64 KB APP1", b64(jpgWithApp), 1200, 900, true},
		{"webp lossless", b64(vp8l), 1024, 700, true},
		{"webp extended", b64(vp8x), 1600, 1200, true},
		{"webp lossy", b64(vp8), 640, 480, true},
		{"truncated png", b64(pngBytes(t, 5, 5)[:12]), 0, 0, false},
		{"truncated jpeg", b64(jpg[:40]), 0, 0, false},
		{"not an image", b64([]byte("hello, this is plainly text and not an image")), 0, 0, false},
		{"not base64", "!!!!not base64 at all!!!!!!!!!!!!!!!!!!!!!!!!!", 0, 0, false},
		{"empty", "", 0, 0, false},
	}
	for _, tc := range cases {
		w, h, ok := imageSize(tc.data)
		if ok != tc.wantOK || w != tc.w || h != tc.h {
			t.Errorf("%s: imageSize = %d, %d, %v; want %d, %d, %v", tc.name, w, h, ok, tc.w, tc.h, tc.wantOK)
		}
		want := imageUnknownTokens
		if tc.wantOK {
			want = imageTokens(tc.w, tc.h)
		}
		if got := base64ImageTokens(tc.data); got != want {
			t.Errorf("%s: base64ImageTokens = %d, want %d", tc.name, got, want)
		}
	}
}

// webpHeader returns a 30-byte RIFF/WEBP header with the given first chunk type.
func webpHeader(chunk string) []byte {
	b := make([]byte, 30)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], 22)
	copy(b[8:], "WEBP")
	copy(b[12:], chunk)
	binary.LittleEndian.PutUint32(b[16:], 10)
	return b
}
