package jsonscan

import (
	"encoding/binary"
	"math/bits"
	"testing"
)

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

// TestIndexSpecial holds IndexSpecial (assembly on amd64) and
// indexSpecialGeneric to the byte-at-a-time definition, for every byte value
// at every offset of blocks of many lengths (around the 8- and 16-byte
// steps and their tails), placed at every alignment.
func TestIndexSpecial(t *testing.T) {
	buf := make([]byte, 80)
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 64} {
		for align := range 4 {
			s := buf[align : align+n]
			for at := 0; at <= n; at++ {
				for v := range 256 {
					for k := range buf {
						buf[k] = 'a' + byte(k%26)
					}
					if at < n {
						s[at] = byte(v)
					}
					want := 0
					for want < n && !isSpecial(s[want]) {
						want++
					}
					if got := IndexSpecial(s); got != want {
						t.Fatalf("IndexSpecial(%q) = %d, want %d", s, got, want)
					}
					if got := indexSpecialGeneric(s); got != want {
						t.Fatalf("indexSpecialGeneric(%q) = %d, want %d", s, got, want)
					}
				}
			}
		}
	}
}

// FuzzIndexSpecial holds IndexSpecial (assembly on amd64) and the portable
// indexSpecialGeneric to the byte-at-a-time definition on arbitrary bytes,
// at every alignment.
func FuzzIndexSpecial(f *testing.F) {
	f.Add([]byte(`plain text long enough to cross a block or two, then a "quote`))
	f.Add([]byte("tab\there\\n and \x1f control"))
	f.Add([]byte{0x80, 0xa2, 0xdc, 0xff, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x22})
	f.Fuzz(func(t *testing.T, s []byte) {
		for k := range min(len(s)+1, 40) {
			want := 0
			for want < len(s[k:]) && !isSpecial(s[k+want]) {
				want++
			}
			if got := IndexSpecial(s[k:]); got != want {
				t.Fatalf("IndexSpecial(%q) = %d, want %d", s[k:], got, want)
			}
			if got := indexSpecialGeneric(s[k:]); got != want {
				t.Fatalf("indexSpecialGeneric(%q) = %d, want %d", s[k:], got, want)
			}
		}
	})
}
