package tokens

import (
	"bytes"
	"encoding/base64"
	"strings"
)

// Document estimate constants; see the package documentation.
const (
	pdfPageTokens      = 3000      // per PDF page: extracted text plus a page image
	pdfBytesPerPage    = 32 << 10  // assumed PDF bytes per page when no page object is visible
	pdfUnknownTokens   = 3000      // a PDF given by URL or file id: one page assumed
	pdfMaxDecodedBytes = 100 << 20 // larger bodies are never decoded, only sized
)

// pdfTokens estimates a base64-encoded PDF: pdfPageTokens per page, where pages
// are the uncompressed "/Type /Page" objects found in the file, or, when the page
// tree is hidden in compressed object streams, one page per pdfBytesPerPage.
func pdfTokens(data string) int {
	data = strings.TrimSpace(data)
	size := base64.StdEncoding.DecodedLen(len(data))
	pages := 0
	if size <= pdfMaxDecodedBytes {
		enc := base64.StdEncoding
		if strings.ContainsAny(data, "-_") {
			enc = base64.URLEncoding
		}
		if raw, err := enc.DecodeString(data); err == nil {
			size = len(raw)
			pages = pdfPageCount(raw)
		}
	}
	if pages == 0 {
		pages = max(1, ceilDiv(size, pdfBytesPerPage))
	}
	return pages * pdfPageTokens
}

// pdfPageCount counts page objects: "/Type" then optional whitespace then
// "/Page" not followed by a name character (which excludes "/Pages").
func pdfPageCount(b []byte) int {
	n := 0
	for {
		i := bytes.Index(b, []byte("/Type"))
		if i < 0 {
			return n
		}
		b = b[i+len("/Type"):]
		j := 0
		for j < len(b) && isPDFSpace(b[j]) {
			j++
		}
		rest := b[j:]
		if bytes.HasPrefix(rest, []byte("/Page")) && (len(rest) == len("/Page") || !isPDFNameChar(rest[len("/Page")])) {
			n++
		}
	}
}

func isPDFSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isPDFNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}
