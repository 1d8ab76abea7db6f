package toanthropic

import (
	"strconv"

	"github.com/ccproxy/ccproxy/internal/jsonw"
)

// Ping appends an Anthropic ping event, used as a keep-alive.
func Ping(dst []byte) []byte {
	return append(dst, "event: ping\ndata: {\"type\": \"ping\"}\n\n"...)
}

// ErrorEvent appends an Anthropic error event:
// event: error / data: {"type":"error","error":{"type":errType,"message":message}}.
func ErrorEvent(dst []byte, errType, message string) []byte {
	dst = append(dst, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"...)
	dst = jsonw.AppendString(dst, errType)
	dst = append(dst, ",\"message\":"...)
	dst = jsonw.AppendString(dst, message)
	return append(dst, "}}\n\n"...)
}

// errorEventRaw is ErrorEvent with the message already a raw JSON string.
func errorEventRaw(dst []byte, errType, rawMessage string) []byte {
	dst = append(dst, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"...)
	dst = jsonw.AppendString(dst, errType)
	dst = append(dst, ",\"message\":"...)
	dst = append(dst, rawMessage...)
	return append(dst, "}}\n\n"...)
}

// appendUsage appends an Anthropic usage object.
func appendUsage(dst []byte, u Usage) []byte {
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.InputTokens), 10)
	dst = append(dst, `,"cache_creation_input_tokens":0,"cache_read_input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.CacheReadInputTokens), 10)
	dst = append(dst, `,"output_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.OutputTokens), 10)
	return append(dst, '}')
}

// appendStop appends the stop_reason and stop_sequence members (no braces).
func appendStop(dst []byte, stopReason, stopSeq string, seqSet bool) []byte {
	dst = append(dst, `"stop_reason":`...)
	if stopReason == "" {
		dst = append(dst, "null"...)
	} else {
		dst = jsonw.AppendString(dst, stopReason)
	}
	dst = append(dst, `,"stop_sequence":`...)
	if seqSet {
		return jsonw.AppendString(dst, stopSeq)
	}
	return append(dst, "null"...)
}

func blockStartHead(dst []byte, index int) []byte {
	dst = append(dst, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	return append(dst, `,"content_block":`...)
}

func deltaHead(dst []byte, index int, kind string) []byte {
	dst = append(dst, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	dst = append(dst, `,"delta":{"type":"`...)
	dst = append(dst, kind...)
	return append(dst, `",`...)
}

func blockStop(dst []byte, index int) []byte {
	dst = append(dst, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	return append(dst, "}\n\n"...)
}
