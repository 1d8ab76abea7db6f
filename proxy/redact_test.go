package proxy

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	cases := []string{
		`{"authorization":"Bearer sk-abcdefghijkl"}`,
		`{"x-api-key":"supersecretvalue"}`,
		`{"api_key": "hunter2hunter2"}`,
		`Authorization: Bearer tok_live_123456`,
		`text mentioning sk-proj-ABCDEFGHIJKLMNOP in a message`,
		`{"apiKey":"k-123456789"}`,
	}
	for _, c := range cases {
		got := redact(c)
		for _, secret := range []string{"sk-abcdefghijkl", "supersecretvalue", "hunter2hunter2", "tok_live_123456", "sk-proj-ABCDEFGHIJKLMNOP", "k-123456789"} {
			if strings.Contains(got, secret) {
				t.Errorf("redact(%q) = %q still holds %q", c, got, secret)
			}
		}
		if !strings.Contains(got, "[REDACTED]") {
			t.Errorf("redact(%q) = %q", c, got)
		}
	}
	if s := `{"model":"gpt-4.1","messages":[]}`; redact(s) != s {
		t.Fatalf("redact changed a clean body: %s", redact(s))
	}
}

func TestRedactEscaped(t *testing.T) {
	in := `{"content":"my key is sk-proj-PASTEDSECRET123 and {\"api_key\":\"hunter2hunter2\"}"}`
	got := redact(in)
	if strings.Contains(got, "hunter2hunter2") || strings.Contains(got, "PASTEDSECRET123") {
		t.Fatalf("redact(%s) = %s", in, got)
	}
}
