package metrics

import "strings"

// Label sets. Index 0 of each fixed set is the fallback ("other").

var routeNames = [...]string{"other", "messages", "count_tokens", "chat_completions", "models"}

const numRoutes = len(routeNames)

func routeIndex(s string) int {
	switch s {
	case "messages":
		return 1
	case "count_tokens":
		return 2
	case "chat_completions":
		return 3
	case "models":
		return 4
	}
	return 0
}

// errorTypeNames are Anthropic error types (see the Messages API errors
// reference) plus "other".
var errorTypeNames = [...]string{
	"other",
	"invalid_request_error",
	"authentication_error",
	"billing_error",
	"permission_error",
	"not_found_error",
	"request_too_large",
	"rate_limit_error",
	"api_error",
	"timeout_error",
	"overloaded_error",
}

const numErrorTypes = len(errorTypeNames)

func errorTypeIndex(s string) int {
	for i := 1; i < numErrorTypes; i++ {
		if errorTypeNames[i] == s {
			return i
		}
	}
	return 0
}

// retryCauseNames are the causes Retry accepts; anything else is "other".
var retryCauseNames = [...]string{"other", "status_429", "status_5xx", "connect", "timeout", "stale_conn", "pool_timeout", "context_overflow", "output_limit", "fallback", "key_rotated"}

const numRetryCauses = len(retryCauseNames)

func retryCauseIndex(s string) int {
	for i := 1; i < numRetryCauses; i++ {
		if retryCauseNames[i] == s {
			return i
		}
	}
	return 0
}

// encodingNames are upstream content codings; "" is "identity".
var encodingNames = [...]string{"other", "identity", "gzip", "deflate", "br", "zstd"}

const numEncodings = len(encodingNames)

func encodingIndex(s string) int {
	switch s {
	case "", "identity":
		return 1
	case "gzip":
		return 2
	case "deflate":
		return 3
	case "br":
		return 4
	case "zstd":
		return 5
	}
	return 0
}

// stopReasonNames are Anthropic stop_reason values; "" is not counted.
var stopReasonNames = [...]string{"other", "end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal", "model_context_window_exceeded"}

const numStopReasons = len(stopReasonNames)

func stopReasonIndex(s string) int {
	for i := 1; i < numStopReasons; i++ {
		if stopReasonNames[i] == s {
			return i
		}
	}
	return 0
}

// breakerStateNames are the circuit-breaker states SetBreakerState accepts.
var breakerStateNames = [...]string{"closed", "open", "half_open"}

// statusIndex returns the HTTP status as its own index when it is a valid
// code (100-599) and 0 ("other") otherwise.
func statusIndex(code int) int {
	if code >= 100 && code <= 599 {
		return code
	}
	return 0
}

func statusName(i int) string {
	if i == 0 {
		return "other"
	}
	return itoa3(i)
}

func itoa3(i int) string {
	return string([]byte{byte('0' + i/100), byte('0' + i/10%10), byte('0' + i%10)})
}

// modelLabels maps model names to a bounded label set built from the
// configured models. Requested and resolved models share one name table:
// index 0 "other", 1 "none" (empty), 2-4 the families, then Info.Models.
type modelLabels struct {
	names []string
	index map[string]int
}

const (
	modelOther  = 0
	modelNone   = 1
	modelOpus   = 2
	modelSonnet = 3
	modelHaiku  = 4
	modelFirst  = 5 // first configured model
)

func newModelLabels(models []string) modelLabels {
	ml := modelLabels{
		names: []string{"other", "none", "opus", "sonnet", "haiku"},
		index: make(map[string]int, len(models)),
	}
	for _, m := range models {
		if m == "" {
			continue
		}
		if _, dup := ml.index[m]; dup {
			continue
		}
		ml.index[m] = len(ml.names)
		ml.names = append(ml.names, m)
	}
	return ml
}

// resolved maps a resolved (upstream) model: configured names keep their
// name, anything else is "other".
func (ml *modelLabels) resolved(s string) int {
	if s == "" {
		return modelNone
	}
	if i, ok := ml.index[s]; ok {
		return i
	}
	return modelOther
}

// requested maps a client-supplied model: configured names keep their name,
// Claude names collapse to their family, anything else is "other".
func (ml *modelLabels) requested(s string) int {
	if s == "" {
		return modelNone
	}
	if i, ok := ml.index[s]; ok {
		return i
	}
	switch {
	case strings.Contains(s, "opus"):
		return modelOpus
	case strings.Contains(s, "sonnet"):
		return modelSonnet
	case strings.Contains(s, "haiku"):
		return modelHaiku
	}
	return modelOther
}
