//go:build !amd64 || purego

package jsonscan

// IndexSpecial returns the index of the first special byte of s (see
// isSpecial), or len(s).
func IndexSpecial(s []byte) int { return indexSpecialGeneric(s) }
