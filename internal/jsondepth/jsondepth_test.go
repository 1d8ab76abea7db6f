package jsondepth

import (
	"strings"
	"testing"
)

func TestExceeds(t *testing.T) {
	for _, c := range []struct {
		doc  string
		max  int
		want bool
	}{
		{`{"a":[1,{"b":2}]}`, 3, false},
		{`{"a":[1,{"b":2}]}`, 2, true},
		{`{"s":"[[[[[[[[ \" {{{{"}`, 1, false}, // brackets inside strings do not count
		{strings.Repeat("[", 100000), 256, true},
		{`[]`, 0, true},
		{``, 0, false},
	} {
		if got := Exceeds([]byte(c.doc), c.max); got != c.want {
			t.Errorf("Exceeds(%.30q, %d) = %v, want %v", c.doc, c.max, got, c.want)
		}
	}
}
