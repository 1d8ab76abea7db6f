package tokens

import (
	"bytes"
	"testing"
)

func TestPDFPageCount(t *testing.T) {
	cases := map[string]int{
		twoPagePDF:                            2,
		"<< /Type /Pages /Count 3 >>":         0,
		"<</Type/Page>>":                      1,
		"<< /Type\n/Page\n>> <</Type /Page>>": 2,
		"/Type /PageLabel":                    0,
		"/Type /Page":                         1,
		"/Type":                               0,
		"":                                    0,
	}
	for in, want := range cases {
		if got := pdfPageCount([]byte(in)); got != want {
			t.Errorf("pdfPageCount(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestPDFTokens(t *testing.T) {
	if got := pdfTokens(b64([]byte(twoPagePDF))); got != 2*pdfPageTokens {
		t.Errorf("two-page PDF = %d, want %d", got, 2*pdfPageTokens)
	}
	// No visible page object (compressed object streams): one page per 32 KiB.
	opaque := bytes.Repeat([]byte("%PDF-1.7 stream xref "), 100000/21)
	if got, want := pdfTokens(b64(opaque)), ceilDiv(len(opaque), pdfBytesPerPage)*pdfPageTokens; got != want {
		t.Errorf("opaque PDF = %d, want %d", got, want)
	}
	if got := pdfTokens(b64([]byte("%PDF"))); got != pdfPageTokens {
		t.Errorf("tiny PDF = %d, want one page %d", got, pdfPageTokens)
	}
	// Undecodable data is still sized, never zero.
	if got := pdfTokens("@@@@"); got < pdfPageTokens {
		t.Errorf("bad base64 PDF = %d, want at least one page", got)
	}
}
