package jsonscan

import (
	"encoding/binary"
	"math/bits"
)

// isSpecial reports whether c needs attention inside a JSON string: it ends
// it ('"'), starts an escape ('\\') or is not allowed unescaped (< 0x20).
func isSpecial(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }

// indexSpecialGeneric returns the index of the first special byte of s (see
// isSpecial), or len(s). It is the portable IndexSpecial: eight bytes at a
// time, jumping straight to the first special byte of a word.
func indexSpecialGeneric(s []byte) int {
	i := 0
	for ; len(s)-i >= 8; i += 8 {
		if m := special8(binary.LittleEndian.Uint64(s[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(s); i++ {
		if isSpecial(s[i]) {
			return i
		}
	}
	return i
}

// special8 returns a word whose lowest set bit is the high bit of the first
// byte of x (little endian) that is special (see isSpecial), or 0 when there
// is none. Higher bits may be set spuriously: a borrow only propagates
// upwards from a byte that really matches.
//
// (y - n per byte) &^ y has a byte's high bit set where that byte of y is
// below n (n <= 0x80). With y = x ^ 0x02 per byte, y < 0x21 holds exactly
// for x < 0x20 and x == '"' (0x22 ^ 0x02 == 0x20), so one test covers both.
func special8(x uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	y := x ^ (lo * 0x02)
	e := x ^ (lo * '\\')
	return ((y-lo*0x21)&^y | (e-lo)&^e) & hi
}
