package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// loadDotEnv reads KEY=VALUE lines from path into the process environment
// without overriding variables that are already set. A missing file is
// not an error. Lines may start with "export "; values may be quoted;
// '#' starts a comment line, " #" a comment after a value.
func loadDotEnv(path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := sc.Text()
		if line == 1 {
			s = strings.TrimPrefix(s, "\ufeff") // a byte order mark (editors on Windows)
		}
		s = strings.TrimSpace(s)
		if s == "" || s[0] == '#' {
			continue
		}
		s = strings.TrimPrefix(s, "export ")
		k, v, ok := strings.Cut(s, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return n, fmt.Errorf("%s:%d: expected KEY=VALUE", path, line)
		}
		v = dotEnvValue(v)
		if _, set := os.LookupEnv(k); set {
			continue
		}
		if err := os.Setenv(k, v); err != nil {
			return n, err
		}
		n++
	}
	return n, sc.Err()
}

// dotEnvValue returns a .env line's value: a quoted value without its
// quotes (a comment may follow the closing quote: `"sk-..." # work key`),
// an unquoted one without a trailing " #" comment.
func dotEnvValue(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
		// The closing quote is the first one that only a comment or
		// nothing follows, so a value may hold the quote character.
		for i := 1; i < len(v); i++ {
			if v[i] != v[0] {
				continue
			}
			if rest := strings.TrimSpace(v[i+1:]); rest == "" || rest[0] == '#' {
				return v[1:i]
			}
		}
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v
}
