package tokens

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSpaceRunCut(t *testing.T) {
	long := strings.Repeat(" ", maxSpaceRun)
	cases := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"hello world", 11},
		{long, maxSpaceRun},       // a run ending the string is not cut
		{long + "x", maxSpaceRun}, // cut right after maxSpaceRun bytes of space
		{"ab" + long + "x", 2 + maxSpaceRun},
		{strings.Repeat(" ", maxSpaceRun-1) + "x" + long, 2 * maxSpaceRun},
		{strings.Repeat("\u00a0", maxSpaceRun/2) + "x", maxSpaceRun}, // NBSP is 2 bytes
		{strings.Repeat("\u3000", maxSpaceRun/3+1) + "x", 3 * (maxSpaceRun/3 + 1)},
	}
	for _, tc := range cases {
		got := spaceRunCut(tc.in)
		if got != tc.want {
			t.Errorf("spaceRunCut(%q) = %d, want %d", tc.in, got, tc.want)
		}
		if !utf8.ValidString(tc.in[:got]) {
			t.Errorf("spaceRunCut(%q) = %d splits a rune", tc.in, got)
		}
	}
}
