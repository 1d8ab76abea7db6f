package tokens

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"testing"
)

const twoPagePDF = `%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R >> endobj
4 0 obj <</Type/Page/Parent 2 0 R>> endobj
%%EOF
`

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
