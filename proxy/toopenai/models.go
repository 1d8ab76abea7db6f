package toopenai

import (
	"fmt"
	"slices"
	"strings"
)

// Default upstream models used when ModelsConfig leaves them empty.
const (
	// DefaultBigModel serves opus-class (and unrecognised) model names.
	DefaultBigModel = "gpt-5"
	// DefaultSmallModel serves haiku-class model names.
	DefaultSmallModel = "gpt-5-mini"
)

// ModelsConfig configures how Anthropic model names map to upstream models.
type ModelsConfig struct {
	// Big serves "opus" and any name no other rule matches (BIG_MODEL_NAME).
	// Default DefaultBigModel.
	Big string
	// Middle serves names containing "sonnet" (MIDDLE_MODEL_NAME). Default: Big.
	Middle string
	// Small serves names containing "haiku" (SMALL_MODEL_NAME). Default
	// DefaultSmallModel.
	Small string
	// Map holds exact overrides, "requested=upstream" pairs separated by
	// commas (MODEL_MAP), e.g. "claude-opus-5-5=gpt-5,my-small=gpt-5-mini".
	// They win over every other rule.
	Map string
	// ReasoningModels lists extra model-name prefixes treated as reasoning
	// models (max_completion_tokens, no temperature/top_p/stop,
	// reasoning_effort sent). Matched case-insensitively.
	ReasoningModels []string
	// MaxOutputTokens adds or overrides per-model output limits, keyed by
	// model-name prefix (longest prefix wins), matched case-insensitively
	// against the name without its provider ("gpt-4o" matches
	// "openai/gpt-4o") or, for a key naming one ("qwen/qwen3-coder"),
	// against the whole name.
	MaxOutputTokens map[string]int
}

// Models resolves requested model names and knows the upstream models'
// capabilities. Its configuration is immutable after NewModels; the only
// state it gains is the output limits LearnMaxOutputTokens remembers. It
// is safe for concurrent use and must not be copied. A nil *Models passes
// model names through unchanged.
type Models struct {
	big, middle, small string
	exact              map[string]string
	upstream           map[string]bool
	names              []string
	reasoning          []string // lower-case prefixes, built-in and extra
	limits             []limit  // sorted by prefix length, longest first
	learned            learnedLimits
}

type limit struct {
	prefix string
	tokens int
	full   bool // prefix names a provider ("qwen/qwen3-coder"): matched against the whole model name
}

// NewModels validates c and builds a Models.
func NewModels(c ModelsConfig) (*Models, error) {
	m := &Models{
		big:      strings.TrimSpace(c.Big),
		middle:   strings.TrimSpace(c.Middle),
		small:    strings.TrimSpace(c.Small),
		exact:    map[string]string{},
		upstream: map[string]bool{},
	}
	if m.big == "" {
		m.big = DefaultBigModel
	}
	if m.middle == "" {
		m.middle = m.big
	}
	if m.small == "" {
		m.small = DefaultSmallModel
	}
	for pair := range strings.SplitSeq(c.Map, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		from, to, ok := strings.Cut(pair, "=")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || to == "" {
			return nil, fmt.Errorf("model map entry %q: want requested=upstream", pair)
		}
		m.exact[from] = to
	}
	for _, n := range []string{m.big, m.middle, m.small} {
		m.upstream[n] = true
	}
	for _, to := range m.exact {
		m.upstream[to] = true
	}
	for n := range m.upstream {
		m.names = append(m.names, n)
	}
	slices.Sort(m.names)

	m.reasoning = append(m.reasoning, reasoningPrefixes...)
	for _, p := range c.ReasoningModels {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			m.reasoning = append(m.reasoning, p)
		}
	}
	lim := make(map[string]int, len(outputLimits)+len(c.MaxOutputTokens))
	for k, v := range outputLimits {
		lim[k] = v
	}
	for k, v := range c.MaxOutputTokens {
		if v <= 0 {
			return nil, fmt.Errorf("max output tokens for %q: %d is not positive", k, v)
		}
		lim[strings.ToLower(k)] = v
	}
	for k, v := range lim {
		m.limits = append(m.limits, limit{k, v, strings.Contains(k, "/")})
	}
	slices.SortFunc(m.limits, func(a, b limit) int {
		if d := len(b.prefix) - len(a.prefix); d != 0 {
			return d
		}
		return strings.Compare(a.prefix, b.prefix)
	})
	return m, nil
}

// Resolve returns the upstream model for a requested model name: an exact
// Map entry; else the name itself when it already is one of the configured
// upstream models (so "/model gpt-5-mini" works); else Small for names
// containing "haiku", Middle for "sonnet", Big for everything else.
func (m *Models) Resolve(requested string) string {
	if m == nil {
		return requested
	}
	if to, ok := m.exact[requested]; ok {
		return to
	}
	if m.upstream[requested] {
		return requested
	}
	switch {
	case containsFold(requested, "haiku"):
		return m.small
	case containsFold(requested, "sonnet"):
		return m.middle
	default:
		return m.big
	}
}

// Names returns every configured upstream model name, sorted: a bounded
// label set for metrics.
func (m *Models) Names() []string {
	if m == nil {
		return nil
	}
	return slices.Clone(m.names)
}

// IsReasoning reports whether the upstream model is a reasoning model: the
// o1/o3/o4/gpt-5 families (except gpt-5-chat) or a ReasoningModels prefix.
func (m *Models) IsReasoning(model string) bool {
	n := baseName(model)
	if hasAnyPrefixFold(n, nonReasoningPrefixes) {
		return false
	}
	if m == nil {
		return hasAnyPrefixFold(n, reasoningPrefixes)
	}
	return hasAnyPrefixFold(n, m.reasoning)
}

// isOpenAIReasoning reports whether model is one of OpenAI's own reasoning
// families, which take the "developer" role for instructions. Extra
// ReasoningModels (e.g. deepseek-reasoner) keep "system".
func isOpenAIReasoning(model string) bool {
	n := baseName(model)
	return !hasAnyPrefixFold(n, nonReasoningPrefixes) && hasAnyPrefixFold(n, reasoningPrefixes)
}

// MaxOutputTokens returns the model's output-token limit, or 0 when
// unknown: the configured or built-in limit of its longest matching
// prefix, lowered by a limit LearnMaxOutputTokens remembers for it. It
// neither locks nor allocates.
func (m *Models) MaxOutputTokens(model string) int {
	n := baseName(model)
	if m == nil {
		best, tokens := -1, 0
		for p, v := range outputLimits {
			if len(p) > best && hasPrefixFold(n, p) {
				best, tokens = len(p), v
			}
		}
		return tokens
	}
	tokens := 0
	for _, l := range m.limits {
		if hasPrefixFold(n, l.prefix) || l.full && hasPrefixFold(model, l.prefix) {
			tokens = l.tokens
			break
		}
	}
	if learned := m.learned.get(model); learned > 0 && (tokens == 0 || learned < tokens) {
		tokens = learned
	}
	return tokens
}

// baseName strips a provider prefix such as "openai/" from a model name.
func baseName(model string) string {
	if i := strings.LastIndexByte(model, '/'); i >= 0 {
		return model[i+1:]
	}
	return model
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func hasAnyPrefixFold(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if hasPrefixFold(s, p) {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains the lower-case ASCII word sub,
// ignoring ASCII case, without allocating.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
