// Package jsondepth bounds how deeply a JSON document nests, in one pass
// and without allocating, so that recursive decoders (gjson's validator
// among them) never see a document that could exhaust the stack.
package jsondepth

// Exceeds reports whether doc nests arrays and objects deeper than max.
// It does not validate the document; it only counts brackets outside
// strings.
func Exceeds(doc []byte, max int) bool {
	depth := 0
	inStr := false
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '[', '{':
			if depth++; depth > max {
				return true
			}
		case ']', '}':
			depth--
		}
	}
	return false
}
