package toopenai

import (
	"encoding/binary"
	"math/bits"
	"testing"
)

// isSpecial is the byte-at-a-time definition special8 and plainRun must
// agree with.
func isSpecial(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }

// TestSpecial8 checks every byte value at every position of a word, over
// backgrounds that include bytes next to the special ones, so that borrows
// and the '"' trick cannot report a wrong first position.
func TestSpecial8(t *testing.T) {
	backgrounds := []byte{'a', ' ', '!', '#', 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff}
	for _, bg := range backgrounds {
		for pos := range 8 {
			for v := range 256 {
				var w [8]byte
				for k := range w {
					w[k] = bg
				}
				w[pos] = byte(v)
				want := 8
				for k, c := range w {
					if isSpecial(c) {
						want = k
						break
					}
				}
				m := special8(binary.LittleEndian.Uint64(w[:]))
				got := 8
				if m != 0 {
					got = bits.TrailingZeros64(m) >> 3
				}
				if got != want {
					t.Fatalf("special8(%q) first special at %d, want %d", w, got, want)
				}
			}
		}
	}
}

// TestPlainRun checks plainRun and firstControl against the byte-at-a-time
// definition for every special byte at every offset of runs of several
// lengths (short, word-sized and long, both sides of longRun).
func TestPlainRun(t *testing.T) {
	specials := []byte{'"', '\\', 0x00, 0x01, 0x1f}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, longRun - 1, longRun, longRun + 1, 100, 300} {
		for at := 0; at <= n; at++ {
			for _, sp := range specials {
				b := make([]byte, n+1)
				for k := range b {
					b[k] = 'a' + byte(k%26)
				}
				if at < n {
					b[at] = sp
				}
				b[n] = '"' // the closing quote
				want := 0
				for want < len(b) && !isSpecial(b[want]) {
					want++
				}
				q := -1
				if got := plainRun(b, 0, &q); got != want {
					t.Fatalf("plainRun(%q) = %d, want %d", b, got, want)
				}
				if got, wantC := firstControl(b[:n]), controlAt(b[:n]); got != wantC {
					t.Fatalf("firstControl(%q) = %d, want %d", b[:n], got, wantC)
				}
			}
		}
	}
}

func controlAt(s []byte) int {
	for k, c := range s {
		if c < 0x20 {
			return k
		}
	}
	return len(s)
}
