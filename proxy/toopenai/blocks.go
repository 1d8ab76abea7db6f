package toopenai

// Content block kinds.
const (
	kindUnknown = iota
	kindText
	kindImage
	kindDocument
	kindToolUse
	kindToolResult
	kindThinking
	kindRedactedThinking
)

// block holds the raw fields of one Anthropic content block.
type block struct {
	raw       []byte
	kind      int
	text      []byte
	source    []byte
	id        []byte
	name      []byte
	input     []byte
	content   []byte
	toolUseID []byte
	isError   bool
	thinking  []byte
	title     []byte
}

// parseBlock reads the fields of a content block object in one pass.
func (t *translator) parseBlock(raw []byte) block {
	b := block{raw: raw}
	it := indexed(raw, t.ix)
	for k, v, ok := it.next(); ok; k, v, ok = it.next() {
		switch string(k) {
		case "type":
			if isString(v) {
				b.kind = blockKind(inner(v))
			}
		case "text":
			b.text = v
		case "source":
			b.source = v
		case "id":
			b.id = v
		case "name":
			b.name = v
		case "input":
			b.input = v
		case "content":
			b.content = v
		case "tool_use_id":
			b.toolUseID = v
		case "is_error":
			b.isError = string(v) == "true"
		case "thinking":
			b.thinking = v
		case "title":
			b.title = v
		}
	}
	return b
}

func blockKind(typ []byte) int {
	switch string(typ) {
	case "text":
		return kindText
	case "image":
		return kindImage
	case "document":
		return kindDocument
	case "tool_use":
		return kindToolUse
	case "tool_result":
		return kindToolResult
	case "thinking":
		return kindThinking
	case "redacted_thinking":
		return kindRedactedThinking
	}
	return kindUnknown
}

// source holds the raw fields of an image or document source.
type source struct {
	typ, mediaType, data, url, content, fileID []byte
}

func parseSource(raw []byte) source {
	var s source
	if !isObject(raw) {
		return s
	}
	it := members(raw)
	for k, v, ok := it.next(); ok; k, v, ok = it.next() {
		switch string(k) {
		case "type":
			s.typ = v
		case "media_type":
			s.mediaType = v
		case "data":
			s.data = v
		case "url":
			s.url = v
		case "content":
			s.content = v
		case "file_id":
			s.fileID = v
		}
	}
	return s
}

// appendTextInner appends the text a block contributes to a joined string
// (the inside of a JSON string, still escaped): its text field when it has
// one, else its compacted JSON. It is how unknown blocks degrade to text.
func (t *translator) appendTextInner(dst []byte, b *block) []byte {
	if b.kind == kindText || isString(b.text) {
		if isString(b.text) {
			in := inner(b.text)
			t.textBytes += len(in)
			return append(dst, in...)
		}
		return dst
	}
	t.textBytes += len(b.raw)
	return appendEscapedJSON(dst, b.raw)
}

// appendTextPart appends {"type":"text","text":...} for a text or degraded block.
func (t *translator) appendTextPart(dst []byte, b *block) []byte {
	if b.kind == kindText && isString(b.text) {
		t.textBytes += len(b.text) - 2
		dst = append(dst, `{"type":"text","text":`...)
		dst = append(dst, b.text...)
		return append(dst, '}')
	}
	dst = append(dst, `{"type":"text","text":"`...)
	dst = t.appendTextInner(dst, b)
	return append(dst, `"}`...)
}

// appendMediaPart appends the OpenAI content part for an image or document
// block. Sources OpenAI cannot take become a text mention, never an error.
func (t *translator) appendMediaPart(dst []byte, b *block) []byte {
	s := parseSource(b.source)
	switch {
	case strEq(s.typ, "base64") && isString(s.data):
		if b.kind == kindImage {
			dst = append(dst, `{"type":"image_url","image_url":{"url":"data:`...)
			dst = appendInnerOr(dst, s.mediaType, "image/png")
			dst = append(dst, ";base64,"...)
			dst = append(dst, inner(s.data)...)
			return append(dst, `"}}`...)
		}
		dst = append(dst, `{"type":"file","file":{"filename":`...)
		if isString(b.title) && len(b.title) > 2 {
			dst = append(dst, b.title...)
		} else {
			dst = append(dst, `"document.pdf"`...)
		}
		dst = append(dst, `,"file_data":"data:`...)
		dst = appendInnerOr(dst, s.mediaType, "application/pdf")
		dst = append(dst, ";base64,"...)
		dst = append(dst, inner(s.data)...)
		return append(dst, `"}}`...)
	case strEq(s.typ, "url") && isString(s.url) && b.kind == kindImage:
		dst = append(dst, `{"type":"image_url","image_url":{"url":`...)
		dst = append(dst, s.url...)
		return append(dst, `}}`...)
	case strEq(s.typ, "text") && isString(s.data):
		dst = append(dst, `{"type":"text","text":"`...)
		if isString(b.title) && len(b.title) > 2 {
			dst = append(dst, inner(b.title)...)
			dst = append(dst, `\n\n`...)
		}
		t.textBytes += len(s.data) - 2
		dst = append(dst, inner(s.data)...)
		return append(dst, `"}`...)
	case strEq(s.typ, "content") && (isString(s.content) || isArray(s.content)):
		dst = append(dst, `{"type":"text","text":"`...)
		dst = t.appendJoined(dst, s.content, nil)
		return append(dst, `"}`...)
	}
	// URL documents, Files API ids and anything else: a text mention.
	dst = append(dst, `{"type":"text","text":"[`...)
	if b.kind == kindImage {
		dst = append(dst, "image"...)
	} else {
		dst = append(dst, "document"...)
	}
	switch {
	case isString(s.url):
		dst = append(dst, ": "...)
		dst = append(dst, inner(s.url)...)
	case isString(s.fileID):
		dst = append(dst, " file_id: "...)
		dst = append(dst, inner(s.fileID)...)
	}
	return append(dst, `]"}`...)
}

func appendInnerOr(dst, raw []byte, def string) []byte {
	if isString(raw) && len(raw) > 2 {
		return append(dst, inner(raw)...)
	}
	return append(dst, def...)
}

// appendJoined appends the text of content (a string, or an array of blocks
// or strings) as the inside of a JSON string, parts joined with "\n". Images
// and documents are skipped and counted in *media (when media is non-nil;
// with a nil media they degrade to text).
func (t *translator) appendJoined(dst, content []byte, media *int) []byte {
	if isString(content) {
		t.textBytes += len(content) - 2
		return append(dst, inner(content)...)
	}
	if !isArray(content) {
		return dst
	}
	n := 0
	it := indexed(content, t.ix)
	for _, v, ok := it.next(); ok; _, v, ok = it.next() {
		if isString(v) {
			if n > 0 {
				dst = append(dst, `\n`...)
			}
			t.textBytes += len(v) - 2
			dst = append(dst, inner(v)...)
			n++
			continue
		}
		if !isObject(v) {
			continue
		}
		b := t.parseBlock(v)
		switch b.kind {
		case kindImage, kindDocument:
			if media != nil {
				*media++
				continue
			}
		case kindThinking, kindRedactedThinking:
			continue
		}
		if n > 0 {
			dst = append(dst, `\n`...)
		}
		dst = t.appendTextInner(dst, &b)
		n++
	}
	return dst
}
