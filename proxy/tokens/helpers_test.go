package tokens

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tiktoken-go/tokenizer"
)

// refCodec returns a reference codec straight from the tokenizer library,
// independent of the Counter's own lazy loading.
func refCodec(t testing.TB, enc tokenizer.Encoding) tokenizer.Codec {
	t.Helper()
	c, err := tokenizer.Get(enc)
	if err != nil {
		t.Fatalf("tokenizer.Get(%s): %v", enc, err)
	}
	return c
}

// ref counts s with the reference codec.
func ref(t testing.TB, enc tokenizer.Encoding, s string) int {
	t.Helper()
	n, err := refCodec(t, enc).Count(s)
	if err != nil {
		t.Fatalf("reference count: %v", err)
	}
	return n
}

// mustCount counts body (a value marshalled to JSON) with a fresh counter.
func mustCount(t testing.TB, c *Counter, body any, model string) int {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.Count(b, model)
	if err != nil {
		t.Fatalf("Count(%s): %v", b, err)
	}
	return n
}

// req builds a request body with the given messages and optional extra fields.
func req(messages []any, extra ...any) map[string]any {
	m := map[string]any{"model": "claude-opus-5-5", "max_tokens": 1024, "messages": messages}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

func user(content any) map[string]any { return map[string]any{"role": "user", "content": content} }
func assistant(content any) map[string]any {
	return map[string]any{"role": "assistant", "content": content}
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func asInvalid(err error) (*InvalidRequestError, bool) {
	var ie *InvalidRequestError
	ok := errors.As(err, &ie)
	return ie, ok
}
