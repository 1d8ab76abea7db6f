// Package tokens counts the input tokens of an Anthropic Messages request
// offline, for POST /v1/messages/count_tokens on an OpenAI-compatible upstream.
//
// Claude Code uses the count to decide when to compact a conversation, so the
// counter errs towards counting too much: undercounting lets the next request
// overflow the upstream's context window. Everything the upstream will see is
// counted, not only text.
//
// # Tokenizer
//
// Text is tokenized with github.com/tiktoken-go/tokenizer, whose BPE ranks are
// compiled into the binary (no files, no network). The encoding follows the
// upstream model (see EncodingFor): cl100k_base for gpt-4 and gpt-3.5, o200k_base
// for gpt-4o, gpt-4.1, gpt-5, the o-series and every other model. Non-OpenAI
// models (DeepSeek, Qwen, Llama, ...) have their own tokenizers, whose counts can
// differ from o200k_base by some percent either way; no correction factor is
// applied, so an edge wanting a safety margin should multiply. Each Counter
// builds each codec once, on first use.
//
// Whitespace runs (Unicode whitespace) longer than 128 bytes are cut before
// tokenizing, because the tokenizer's pre-split regexp is quadratic in their
// length; each cut can add one token. Tokenizing costs about 0.5 ms per KB of
// text on one core, which is why results are cached.
//
// # What is counted
//
// Message framing follows OpenAI's cookbook (num_tokens_from_messages): each
// message costs 3 tokens plus its role, and 3 more prime the reply. A non-empty
// system prompt (string or text blocks) is one "system" message. Content blocks:
//
//   - text: its text. Citations metadata is not counted.
//   - tool_use, server_tool_use, mcp_tool_use: 8 tokens of call framing, the
//     tool name and the input as compact JSON (the function arguments string).
//   - tool_result, mcp_tool_result: becomes its own role:"tool" message upstream,
//     so 3 + role tokens of framing, plus its content, a string or an array of
//     blocks (text, nested images, documents), each counted as below. The
//     tool_use_id is not counted.
//   - thinking: the thinking text (the signature is not counted).
//   - redacted_thinking: one token per 4 characters of the encrypted data, an
//     upper estimate of the hidden text it stands for.
//   - image: OpenAI's high-detail tile formula. The width and height are read
//     from the base64 data's header (PNG IHDR, GIF screen descriptor, WebP
//     VP8/VP8L/VP8X, JPEG up to its SOF marker; the format is sniffed, not taken
//     from media_type). The image is fit inside 2048x2048, scaled down so its
//     short side is at most 768 px, and costs 85 + 170 per 512x512 tile (a
//     1024x1024 image: 765; the maximum is 1,445). Images given by URL or file
//     id, or whose header cannot be read, cost 1,600.
//   - document: title and context, plus for a PDF (base64 source) 3,000 tokens
//     per page (Anthropic quotes 1,500-3,000 text tokens per page, and OpenAI
//     adds a page image of about 765). Pages are the uncompressed "/Type /Page"
//     objects in the file; when the page tree is hidden in compressed object
//     streams, one page per 32 KiB of PDF is assumed. A text source counts its
//     text, a content source its blocks, and a URL or file source 3,000 tokens
//     (one page; the content is not in the request).
//   - search_result: title, source and content blocks.
//   - anything else (web_search_tool_result, code execution results, unknown
//     types): the block's compact JSON.
//
// Tools follow the cookbook's num_tokens_for_tools framing: 7 tokens per tool
// (10 with cl100k_base) plus 12 once when any tool is present. A tool's name,
// description and input_schema as compact JSON are counted; OpenAI renders the
// schema more tersely than JSON, so this overcounts slightly. An
// Anthropic-defined client tool (bash, text editor, computer, memory; no
// input_schema) counts what the upstream is sent for it: its name and the
// description and schema toopenai.ClientTool gives, plus, for the computer
// tool, its definition's JSON for the display size. Other tools without an
// input_schema (server tools such as web_search_20250305) count their JSON.
// tool_choice, thinking settings, mcp_servers and other top-level fields are not
// counted.
//
// # Cache
//
// Results are cached in a bounded LRU keyed by the SHA-256 of the encoding name
// and the exact body bytes, so identical requests routed to models sharing an
// encoding share an entry. Hashing costs about 1% of tokenizing (see the
// benchmarks), and a 256-bit key makes serving a wrong cached count practically
// impossible.
package tokens
