package toopenai

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a quoted JSON string.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendEscapedJSON appends the valid JSON value raw, compacted (whitespace
// outside strings removed), escaped so that it can sit inside a JSON string.
// It turns a tool_use input object into OpenAI's arguments string without
// decoding it.
func appendEscapedJSON(dst, raw []byte) []byte {
	inStr := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if inStr {
			switch c {
			case '"':
				dst = append(dst, '\\', '"')
				inStr = false
			case '\\':
				dst = append(dst, '\\', '\\')
				i++
				if i < len(raw) {
					if n := raw[i]; n == '"' || n == '\\' {
						dst = append(dst, '\\', n)
					} else {
						dst = append(dst, n)
					}
				}
			default:
				// Copy a run of plain bytes at once.
				j := i + 1
				for j < len(raw) && raw[j] != '"' && raw[j] != '\\' {
					j++
				}
				dst = append(dst, raw[i:j]...)
				i = j - 1
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
		case '"':
			dst = append(dst, '\\', '"')
			inStr = true
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
