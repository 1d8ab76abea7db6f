//go:build !amd64 || purego

package toopenai

// indexSpecial returns the index of the first special byte of s (see
// isSpecial), or len(s).
func indexSpecial(s []byte) int { return indexSpecialGeneric(s) }
