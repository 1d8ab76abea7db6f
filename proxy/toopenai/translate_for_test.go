package toopenai

import (
	"testing"

	"github.com/tidwall/gjson"
)

// TestTranslateFor: the same request translated for another upstream
// model takes that model's shape (reasoning fields, output limit field,
// system role), not the resolved model's.
func TestTranslateFor(t *testing.T) {
	models, err := NewModels(ModelsConfig{Big: "gpt-5", Small: "gpt-4.1-mini"})
	if err != nil {
		t.Fatal(err)
	}
	o := &Options{Models: models}
	body := []byte(`{"model":"claude-opus-4-1","max_tokens":32000,"system":"be brief","thinking":{"type":"enabled","budget_tokens":8000},"messages":[{"role":"user","content":"hi"}]}`)
	first, info, err := Translate(nil, body, o)
	if err != nil {
		t.Fatal(err)
	}
	if info.UpstreamModel != "gpt-5" || !gjson.GetBytes(first, "reasoning_effort").Exists() ||
		!gjson.GetBytes(first, "max_completion_tokens").Exists() || gjson.GetBytes(first, "messages.0.role").Str != "developer" {
		t.Fatalf("resolved translation not a reasoning model's: %s", first)
	}
	fb, finfo, err := TranslateFor(nil, body, o, "gpt-4.1")
	if err != nil {
		t.Fatal(err)
	}
	if finfo.UpstreamModel != "gpt-4.1" || finfo.Model != "claude-opus-4-1" || gjson.GetBytes(fb, "model").Str != "gpt-4.1" {
		t.Fatalf("info %+v body %s", finfo, fb)
	}
	if gjson.GetBytes(fb, "reasoning_effort").Exists() || gjson.GetBytes(fb, "max_completion_tokens").Exists() ||
		!gjson.GetBytes(fb, "max_tokens").Exists() || gjson.GetBytes(fb, "messages.0.role").Str != "system" {
		t.Fatalf("fallback translation kept the first model's shape: %s", fb)
	}
}
