package toopenai

// outputLimits is the per-model maximum number of output tokens, matched by
// the longest prefix of the (lower-cased, provider-prefix-stripped) upstream
// model name. Models not listed keep the client's max_tokens unless an
// upstream's refusal taught a limit (Models.LearnMaxOutputTokens). Sources:
// the providers' model pages (OpenAI, DeepSeek). ModelsConfig.MaxOutputTokens
// (MODEL_MAX_OUTPUT_TOKENS) adds or overrides entries.
var outputLimits = map[string]int{
	"gpt-3.5-turbo":     4096,
	"gpt-4":             8192,
	"gpt-4-turbo":       4096,
	"gpt-4o":            16384,
	"gpt-4o-mini":       16384,
	"gpt-4.1":           32768,
	"gpt-5":             128000,
	"gpt-5-chat":        16384,
	"o1":                100000,
	"o1-mini":           65536,
	"o3":                100000,
	"o3-mini":           100000,
	"o4-mini":           100000,
	"deepseek-chat":     8192,
	"deepseek-reasoner": 65536,
}

// reasoningPrefixes name OpenAI's reasoning model families. They take
// max_completion_tokens, reject temperature/top_p/stop, accept
// reasoning_effort and want the "developer" role for instructions.
var reasoningPrefixes = []string{"o1", "o3", "o4", "gpt-5"}

// nonReasoningPrefixes are exceptions inside the reasoning families.
var nonReasoningPrefixes = []string{"gpt-5-chat"}
