// Package toanthropic translates OpenAI Chat Completions answers into the
// exact Anthropic Messages answers Claude Code expects: a streamed sequence
// of chat.completion.chunk payloads into Anthropic stream events (Stream),
// and a non-streamed chat.completion into an Anthropic message (Message).
//
// # Event grammar
//
// Stream emits, in order: one message_start (content [], stop_reason null,
// usage with the caller's input token estimate and output_tokens 1); then
// for each content block a content_block_start (indexes sequential from 0),
// its deltas and exactly one content_block_stop, with at most one block open
// at any time; then one message_delta (stop_reason, stop_sequence and the
// final usage) and one message_stop. A failed stream emits an error event
// first, then closes the open block, then message_delta and message_stop.
// Every event is framed as "event: <type>\ndata: <json>\n\n".
//
// # Decisions
//
//   - Thinking: delta.reasoning_content (or delta.reasoning when that is
//     absent) becomes a thinking block when Config.Thinking is set and is
//     dropped otherwise. OpenAI-compatible upstreams have no signatures, so
//     each thinking block ends with a signature_delta carrying a synthetic
//     signature, ThinkingSignature(thinking): stable, non-empty and derived
//     from the decoded thinking text, so the request side can recognise it.
//   - Content parts: delta.content (and message.content) may be an array of
//     parts, as Mistral sends it: text parts {"type":"text","text":...} are
//     text, thinking parts {"type":"thinking","thinking":[{"type":"text",
//     "text":...}]} (or "thinking" a string) are thinking under the rule
//     above, in the parts' order; parts and sub-parts of other types
//     (reference, image) are dropped. Consecutive deltas of one kind stay in
//     one block; Message merges consecutive pieces of one kind likewise, so
//     both paths give the same blocks and signatures.
//   - Tool calls are keyed by tool_calls[].index; a fragment whose non-empty
//     id differs from the id already recorded for its index (upstreams that
//     send every call as index 0) starts a new call and ends the old one, as
//     does a fragment without id whose arguments open a new JSON object after
//     the call's complete one (the new call keeps the old one's name: a relay
//     in front of Gemini sends parallel calls so). The id and name are
//     taken from the first fragment that carries them; a missing id becomes
//     a synthetic "toolu_..." id; a name found in Config.ToolNames (an
//     alias for a name too long for OpenAI) becomes the client's name. A
//     tool block opens once its name is known;
//     arguments stream as input_json_delta fragments, each upstream fragment
//     copied once (O(n) in total). Because only one block may be open, a
//     fragment for another call is buffered while a call is open; the open
//     call is closed as soon as its arguments form a complete JSON value and
//     another call has data, or when the choice finishes. So sequential calls
//     (OpenAI's behaviour) stream incrementally and interleaved calls
//     (index 0, 1, 0, 1) stream the first call live and the others from their
//     buffers, never closing and reopening a block. Fragments for a call whose
//     block was already closed (only possible after its JSON was complete,
//     or when text arrived in between) are dropped. A call without any
//     argument bytes gets the partial_json "{}", so its input is {}.
//   - Gemini thought signatures: Gemini 3 (Google's OpenAI-compatible
//     endpoint and gateways relaying it) attaches an opaque signature to a
//     step's first function call, as tool_calls[].extra_content.google.
//     thought_signature, and answers 400 on the next request unless the
//     call carries it back. Claude Code echoes only a tool_use's id, name
//     and input, so the signature rides in the id: the tool_use id is
//     "<upstream id>" + SignatureMarker ("__ccpts1__") + base64url
//     (unpadded) of the signature's decoded bytes, which stays within
//     Anthropic's ^[a-zA-Z0-9_-]+$ when the upstream id does; toopenai
//     splits it back into the upstream id and extra_content. The signature
//     must come in a fragment before the call's block starts (Gemini sends
//     each call whole, id, name, signature and arguments in one chunk); one
//     arriving later is dropped, as is one for an id already holding the
//     marker or one over 64 KiB, and Stream.DroppedSignatures counts them.
//     Calls without a signature keep their ids byte for byte. Signatures
//     Gemini may put on text (delta.extra_content) are optional to return
//     and are not carried.
//   - Text or reasoning that arrives while a tool block is open closes it.
//     A refusal (delta.refusal, sent with content null) is text.
//   - finish_reason (in any letter case): stop → end_turn, length →
//     max_tokens, tool_calls and function_call → tool_use, content_filter
//     and Gemini's safety endings (SAFETY, RECITATION, BLOCKLIST, ...) →
//     refusal. Anything else ("error", "abort", Gemini's
//     MALFORMED_FUNCTION_CALL) is not a silent end_turn: the stream sends an
//     api_error event naming it before message_delta (stop_reason end_turn,
//     Stream.UnknownFinish reports it) and Message returns an
//     *UpstreamError. stop becomes tool_use
//     when tool calls were emitted, and tool_calls end_turn when none was
//     (Anthropic never stops with tool_use without a tool_use block). OpenAI strips a matched stop sequence from
//     the text, so stop_sequence is only reported when the upstream names the
//     match in a non-standard choice field (vLLM "stop_reason", SGLang
//     "matched_stop") and it equals one of Config.StopSequences.
//   - message_delta is sent once the choice has finished and either the usage
//     (a chunk with choices:[], usage on the finish chunk, or usage inside
//     the finishing choice as Moonshot sends it) or "[DONE]" has
//     been read. "[DONE]" without any finish_reason also ends the message
//     cleanly (end_turn, or tool_use after tool calls).
//   - Usage: input_tokens = prompt_tokens − cached tokens (Anthropic's
//     input_tokens excludes cache reads), cache_read_input_tokens =
//     prompt_tokens_details.cached_tokens (or DeepSeek's
//     prompt_cache_hit_tokens, or Moonshot's cached_tokens), output_tokens = completion_tokens (which
//     includes reasoning tokens, as Anthropic's output_tokens includes
//     thinking). Without upstream usage, input_tokens is Config.InputTokens
//     and output_tokens an estimate of one token per 4 bytes of emitted
//     content.
//   - Failures: an upstream {"error":{...}} chunk, an error object sent
//     without that wrapper ({"object":"error","message":...}, as older vLLM
//     and some gateways send it; Message reads both shapes too), a chunk
//     that is not valid JSON, a read error, or the end of the upstream
//     without finish_reason and without "[DONE]" produce an error event
//     (rate limits → rate_limit_error, overloaded → overloaded_error, code
//     400/422 or a BadRequest / invalid_request / INVALID_ARGUMENT type →
//     invalid_request_error, 404 → not_found_error, 413 →
//     request_too_large, else api_error) and the stream ends.
//     Tool calls still waiting in buffers are dropped then, since they are
//     incomplete. A stream is never left without message_stop.
//
// # Zero copy
//
// Each chunk is read in one pass by a small scanner (chunk.go, scan.go) over
// an unsafe string view of the caller's []byte (never retained beyond the
// call); runs of string contents are skipped by internal/jsonscan, the
// scanner the request translator uses too. The pass validates the whole chunk (it accepts exactly what
// gjson.ValidBytes accepts) while it records the fields the stream needs, so a
// chunk is applied only once it is known to be valid JSON; unknown values are
// skipped iteratively, so nesting depth costs no stack. Text, thinking and
// argument strings are then copied as raw JSON string bytes (escapes
// included) straight into the Anthropic JSON: OpenAI and Anthropic both carry
// them as JSON strings. Rare shapes (an upstream error object, usage, an
// escaped finish_reason, a non-integer choice index) are still interpreted by
// gjson on the recorded raw value. Message (the unary path) uses gjson.
package toanthropic
