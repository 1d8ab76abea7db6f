package toopenai

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
