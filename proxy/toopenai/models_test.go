package toopenai

import (
	"reflect"
	"testing"
)

func TestResolve(t *testing.T) {
	m, err := NewModels(ModelsConfig{Big: "big-m", Small: "small-m", Map: " claude-opus-5-5 = gpt-5 , my-small=gpt-5-mini,"})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"claude-opus-5-5":            "gpt-5",
		"my-small":                   "gpt-5-mini",
		"claude-3-5-haiku-20241022":  "small-m",
		"Claude-Haiku-4-5":           "small-m",
		"claude-sonnet-4-5-20250929": "big-m", // Middle defaults to Big
		"claude-opus-4-1":            "big-m",
		"something-else":             "big-m",
		"gpt-5-mini":                 "gpt-5-mini", // a configured upstream name passes through
		"small-m":                    "small-m",
	} {
		if got := m.Resolve(in); got != want {
			t.Errorf("Resolve(%q) = %q; want %q", in, got, want)
		}
	}
	if got, want := m.Names(), []string{"big-m", "gpt-5", "gpt-5-mini", "small-m"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v; want %v", got, want)
	}
	var nilModels *Models
	if got := nilModels.Resolve("x"); got != "x" {
		t.Errorf("nil Models Resolve = %q", got)
	}
}

func TestNewModelsDefaultsAndErrors(t *testing.T) {
	m, err := NewModels(ModelsConfig{Middle: "mid"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Resolve("claude-opus") != DefaultBigModel || m.Resolve("claude-haiku") != DefaultSmallModel || m.Resolve("claude-sonnet") != "mid" {
		t.Errorf("defaults wrong: %v", m.Names())
	}
	for _, bad := range []ModelsConfig{{Map: "a"}, {Map: "=b"}, {Map: "a="}, {MaxOutputTokens: map[string]int{"x": 0}}} {
		if _, err := NewModels(bad); err == nil {
			t.Errorf("NewModels(%+v) accepted", bad)
		}
	}
}

func TestCapabilities(t *testing.T) {
	m, err := NewModels(ModelsConfig{ReasoningModels: []string{"DeepSeek-Reasoner"}, MaxOutputTokens: map[string]int{"my-model": 777, "gpt-4o": 1000}})
	if err != nil {
		t.Fatal(err)
	}
	for model, want := range map[string]bool{"gpt-5": true, "gpt-5-mini": true, "o3": true, "o1-preview": true, "openai/o4-mini": true,
		"gpt-5-chat-latest": false, "gpt-4o": false, "deepseek-reasoner": true, "deepseek-chat": false} {
		if got := m.IsReasoning(model); got != want {
			t.Errorf("IsReasoning(%q) = %v", model, got)
		}
	}
	if isOpenAIReasoning("deepseek-reasoner") {
		t.Error("deepseek-reasoner must keep the system role")
	}
	for model, want := range map[string]int{"gpt-4o-2024-08-06": 1000, "gpt-4o-mini": 16384, "my-model-x": 777, "gpt-5.1": 128000, "unknown": 0, "o1-mini": 65536} {
		if got := m.MaxOutputTokens(model); got != want {
			t.Errorf("MaxOutputTokens(%q) = %d; want %d", model, got, want)
		}
	}
	var nilModels *Models
	if nilModels.MaxOutputTokens("gpt-4o-mini") != 16384 || !nilModels.IsReasoning("o3") {
		t.Error("nil Models should still know built-in capabilities")
	}
}
