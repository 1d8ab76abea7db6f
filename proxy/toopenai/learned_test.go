package toopenai

import (
	"strconv"
	"sync"
	"testing"

	"github.com/tidwall/gjson"
)

// TestLearnMaxOutputTokens: a learned limit only lowers (never below 1,
// never above a configured or built-in limit) and is per exact model.
func TestLearnMaxOutputTokens(t *testing.T) {
	m, err := NewModels(ModelsConfig{MaxOutputTokens: map[string]int{"qwen3-coder": 65536}})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		model string
		n     int
		want  bool // learned
		limit int  // MaxOutputTokens(model) afterwards
	}{
		{"glm-4.6", 0, false, 0},
		{"glm-4.6", -5, false, 0},
		{"glm-4.6", 32768, true, 32768},
		{"glm-4.6", 40000, false, 32768}, // never raised
		{"glm-4.6", 32768, false, 32768}, // nothing new
		{"glm-4.6", 8192, true, 8192},    // lowered
		{"qwen3-coder-plus", 70000, false, 65536},
		{"qwen3-coder-plus", 16384, true, 16384},
		{"gpt-4o", 16384, false, 16384}, // the table says as much already
		{"gpt-4o", 4096, true, 4096},
	}
	for _, s := range steps {
		if got := m.LearnMaxOutputTokens(s.model, s.n); got != s.want {
			t.Errorf("LearnMaxOutputTokens(%q, %d) = %v; want %v", s.model, s.n, got, s.want)
		}
		if got := m.MaxOutputTokens(s.model); got != s.limit {
			t.Errorf("after learning %d: MaxOutputTokens(%q) = %d; want %d", s.n, s.model, got, s.limit)
		}
	}
	// Exact names: neither a prefix sibling nor another provider's copy.
	if got := m.MaxOutputTokens("qwen3-coder"); got != 65536 {
		t.Errorf("qwen3-coder = %d; its sibling's learned limit leaked", got)
	}
	if got := m.MaxOutputTokens("gpt-4o-mini"); got != 16384 {
		t.Errorf("gpt-4o-mini = %d; gpt-4o's learned limit leaked", got)
	}
	if got := m.LearnedMaxOutputTokens("glm-4.6"); got != 8192 {
		t.Errorf("LearnedMaxOutputTokens = %d", got)
	}
	var nilModels *Models
	if nilModels.LearnMaxOutputTokens("x", 5) || nilModels.LearnedMaxOutputTokens("x") != 0 {
		t.Error("a nil Models learned")
	}
}

// TestLearnedCap: beyond MaxLearnedModels models nothing new is
// remembered, while the models already remembered can still be lowered.
func TestLearnedCap(t *testing.T) {
	m, err := NewModels(ModelsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range MaxLearnedModels {
		if !m.LearnMaxOutputTokens("model-"+strconv.Itoa(i), 2000) {
			t.Fatalf("model %d not learned under the cap", i)
		}
	}
	if m.LearnMaxOutputTokens("one-too-many", 2000) || m.MaxOutputTokens("one-too-many") != 0 {
		t.Error("a model beyond the cap was remembered")
	}
	if !m.LearnMaxOutputTokens("model-0", 1500) || m.MaxOutputTokens("model-0") != 1500 {
		t.Error("a remembered model could not be lowered at the cap")
	}
	if n := len(*m.learned.m.Load()); n != MaxLearnedModels {
		t.Errorf("%d models remembered; want %d", n, MaxLearnedModels)
	}
}

// TestLearnConcurrent: concurrent refusals of one model learn its limit
// exactly once (one info log), the lowest stated wins, and lookups race
// with the swaps (-race).
func TestLearnConcurrent(t *testing.T) {
	m, err := NewModels(ModelsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	learned := 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				model := "m" + strconv.Itoa(j)
				_ = m.MaxOutputTokens(model)
				if m.LearnMaxOutputTokens(model, 8192) {
					mu.Lock()
					learned++
					mu.Unlock()
				}
				if i == 0 && j == 19 {
					m.LearnMaxOutputTokens("m0", 4096)
				}
			}
		}()
	}
	wg.Wait()
	// 20 models learned 8192 once each, m0 possibly lowered once more by
	// goroutine 0 (counted only when it did not learn 8192 first).
	if learned != 20 {
		t.Errorf("8192 learned %d times for 20 models", learned)
	}
	if got := m.MaxOutputTokens("m0"); got != 4096 {
		t.Errorf("m0 = %d; want the lower 4096", got)
	}
}

// TestTranslateUsesLearnedLimit: once a limit is learned, Translate sends
// it (max_tokens or max_completion_tokens, whichever the model takes), and
// a fallback model translated with TranslateFor gets its own limit.
func TestTranslateUsesLearnedLimit(t *testing.T) {
	m, err := NewModels(ModelsConfig{Big: "qwen3-coder", Small: "gpt-5-mini"})
	if err != nil {
		t.Fatal(err)
	}
	o := &Options{Models: m}
	body := []byte(`{"model":"claude-opus-4-1","max_tokens":32000,"messages":[{"role":"user","content":"hi"}]}`)
	out, info, err := Translate(nil, body, o)
	if err != nil {
		t.Fatal(err)
	}
	if info.MaxTokens != 32000 || gjson.GetBytes(out, "max_tokens").Int() != 32000 {
		t.Fatalf("before learning: %d, %s", info.MaxTokens, out)
	}
	m.LearnMaxOutputTokens("qwen3-coder", 8192)
	m.LearnMaxOutputTokens("gpt-5-mini", 20000)
	out, info, err = Translate(nil, body, o)
	if err != nil {
		t.Fatal(err)
	}
	if info.MaxTokens != 8192 || gjson.GetBytes(out, "max_tokens").Int() != 8192 {
		t.Errorf("after learning: %d, %s", info.MaxTokens, out)
	}
	out, info, err = TranslateFor(nil, body, o, "gpt-5-mini")
	if err != nil {
		t.Fatal(err)
	}
	if info.MaxTokens != 20000 || gjson.GetBytes(out, "max_completion_tokens").Int() != 20000 || gjson.GetBytes(out, "max_tokens").Exists() {
		t.Errorf("fallback model: %d, %s", info.MaxTokens, out)
	}
	out, info, err = TranslateFor(nil, body, o, "kimi-k2")
	if err != nil {
		t.Fatal(err)
	}
	if info.MaxTokens != 32000 || gjson.GetBytes(out, "max_tokens").Int() != 32000 {
		t.Errorf("a model with nothing learned: %d, %s", info.MaxTokens, out)
	}
}

// BenchmarkMaxOutputTokens measures the per-request limit lookup: a model
// matched by the table, and one whose limit was learned among 256.
func BenchmarkMaxOutputTokens(b *testing.B) {
	m, err := NewModels(ModelsConfig{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range MaxLearnedModels - 1 {
		m.LearnMaxOutputTokens("model-"+strconv.Itoa(i), 4096)
	}
	m.LearnMaxOutputTokens("qwen3-coder", 8192)
	for _, model := range []string{"gpt-5-mini", "qwen3-coder"} {
		b.Run(model, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if m.MaxOutputTokens(model) == 0 {
					b.Fatal("no limit")
				}
			}
		})
	}
}

// TestLearnFloor: an upstream's statement that a model outputs fewer than
// MinLearnedOutputTokens tokens is never learned (a hostile or buggy
// upstream, or a number misread from an unrelated message, would
// otherwise clamp every later request for the model to it: "[1, 1]" to
// max_tokens 1); at the floor it is.
func TestLearnFloor(t *testing.T) {
	m, err := NewModels(ModelsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 256, MinLearnedOutputTokens - 1} {
		if m.LearnMaxOutputTokens("glm-4.6", n) || m.MaxOutputTokens("glm-4.6") != 0 {
			t.Fatalf("learned %d: limit now %d", n, m.MaxOutputTokens("glm-4.6"))
		}
	}
	if !m.LearnMaxOutputTokens("glm-4.6", MinLearnedOutputTokens) || m.MaxOutputTokens("glm-4.6") != MinLearnedOutputTokens {
		t.Fatalf("the floor itself not learned: %d", m.MaxOutputTokens("glm-4.6"))
	}
	if m.LearnMaxOutputTokens("glm-4.6", 1) || m.MaxOutputTokens("glm-4.6") != MinLearnedOutputTokens {
		t.Fatalf("lowered below the floor: %d", m.MaxOutputTokens("glm-4.6"))
	}
}

// TestConfiguredLimitWithProvider: a configured limit keyed by the model
// name as the upstream takes it, provider prefix and all (OpenRouter's
// "qwen/qwen3-coder", the same string as BIG_MODEL_NAME), applies to it;
// it used to be compared with the name stripped of its provider and never
// matched. It does not apply to the same model of another provider, and a
// key without a provider still matches any provider's model.
func TestConfiguredLimitWithProvider(t *testing.T) {
	m, err := NewModels(ModelsConfig{MaxOutputTokens: map[string]int{"Qwen/Qwen3-Coder": 65536, "glm-4.6": 32768}})
	if err != nil {
		t.Fatal(err)
	}
	for model, want := range map[string]int{
		"qwen/qwen3-coder":      65536,
		"qwen/qwen3-coder-plus": 65536,
		"QWEN/qwen3-coder":      65536,
		"other/qwen3-coder":     0,
		"qwen3-coder":           0,
		"z-ai/glm-4.6":          32768,
		"glm-4.6":               32768,
		"openai/gpt-4o":         16384,
	} {
		if got := m.MaxOutputTokens(model); got != want {
			t.Errorf("MaxOutputTokens(%q) = %d; want %d", model, got, want)
		}
	}
}
