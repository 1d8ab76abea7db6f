package toopenai

import (
	"sync"
	"sync/atomic"
)

// MaxLearnedModels bounds how many upstream models LearnMaxOutputTokens
// remembers a limit for. A model beyond it is not remembered: its requests
// keep being refused once and retried with the limit the upstream states
// (one wasted round trip each), which costs time, not memory.
const MaxLearnedModels = 256

// MinLearnedOutputTokens is the smallest output limit LearnMaxOutputTokens
// learns. No model Claude Code can work with outputs fewer tokens (a
// single file edit takes more), and a learned limit clamps every later
// request for the model: a hostile or buggy upstream stating "[1, 1]", or
// a number misread from an unrelated refusal, must not degrade the model
// until restart. A model that really outputs less is configured
// (ModelsConfig.MaxOutputTokens, which has no floor); its refusals reach
// the client as they are.
const MinLearnedOutputTokens = 1024

// learnedLimits holds the output limits upstreams stated when they refused
// a max_tokens, keyed by the exact upstream model name. Readers load an
// immutable map through an atomic pointer (no lock, no allocation);
// writers, rare (once per model), copy it under mu and swap the copy in.
type learnedLimits struct {
	m  atomic.Pointer[map[string]int]
	mu sync.Mutex
}

// get is the learned limit of model, 0 if none.
func (l *learnedLimits) get(model string) int {
	if p := l.m.Load(); p != nil {
		return (*p)[model]
	}
	return 0
}

// LearnMaxOutputTokens remembers that the upstream model refuses
// max_tokens above n, so that later translations for it send at most n.
// A learned limit only lowers: it reports false, and changes nothing, when
// n is below MinLearnedOutputTokens, when the model's configured, built-in or already learned
// limit is n or less, or when MaxLearnedModels models are remembered and
// this one is not among them. It reports true when the limit is new or
// lower than the one learned before. Safe for concurrent use; a nil
// *Models learns nothing.
func (m *Models) LearnMaxOutputTokens(model string, n int) bool {
	if m == nil || n < MinLearnedOutputTokens || model == "" {
		return false
	}
	if cur := m.MaxOutputTokens(model); cur > 0 && cur <= n {
		return false
	}
	l := &m.learned
	l.mu.Lock()
	defer l.mu.Unlock()
	var old map[string]int
	if p := l.m.Load(); p != nil {
		old = *p
	}
	if cur, ok := old[model]; ok && cur <= n {
		return false // learned meanwhile by a concurrent refusal
	}
	if _, ok := old[model]; !ok && len(old) >= MaxLearnedModels {
		return false
	}
	next := make(map[string]int, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[model] = n
	l.m.Store(&next)
	return true
}

// LearnedMaxOutputTokens returns the limit LearnMaxOutputTokens remembers
// for model, 0 if none.
func (m *Models) LearnedMaxOutputTokens(model string) int {
	if m == nil {
		return 0
	}
	return m.learned.get(model)
}
