//go:build !purego

package jsonscan

// IndexSpecial returns the index of the first special byte of s (see
// isSpecial), or len(s). It is SSE2 assembly (baseline amd64), sixteen
// bytes per step; indexSpecialGeneric is the same function in Go and the
// tests hold the two to the same answers.
//
//go:noescape
func IndexSpecial(s []byte) int
