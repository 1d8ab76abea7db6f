package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"testing"
)

// The MCP server TestClaudeCodeCLI gives Claude Code: its tool's full name,
// mcp__<mcpServer>__<mcpTool>, is 88 characters.
const (
	mcpServer = "company-internal-knowledge-base-production"
	mcpTool   = "search_documents_by_semantic_similarity"
	mcpAnswer = "found: design doc v2"
)

// TestMain runs the test binary as that MCP server (stdio) when Claude Code
// starts it with CCPROXY_TEST_MCP_SERVER=1.
func TestMain(m *testing.M) {
	if os.Getenv("CCPROXY_TEST_MCP_SERVER") == "1" {
		serveMCP(os.Stdin, os.Stdout)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveMCP answers MCP's JSON-RPC requests, one JSON object per line:
// initialize, tools/list (one tool) and tools/call (mcpAnswer); other
// requests get an empty result and notifications no answer.
func serveMCP(in io.Reader, out io.Writer) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	enc := json.NewEncoder(out)
	for sc.Scan() {
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				ProtocolVersion string `json:"protocolVersion"`
			} `json:"params"`
		}
		if json.Unmarshal(sc.Bytes(), &req) != nil || req.ID == nil {
			continue
		}
		var result any = map[string]any{}
		switch req.Method {
		case "initialize":
			result = map[string]any{"protocolVersion": req.Params.ProtocolVersion, "capabilities": map[string]any{"tools": map[string]any{}},
				"serverInfo": map[string]any{"name": "kb", "version": "1"}}
		case "tools/list":
			result = map[string]any{"tools": []any{map[string]any{"name": mcpTool, "description": "Search the knowledge base",
				"inputSchema": map[string]any{"type": "object", "properties": map[string]any{"query": map[string]any{"type": "string"}}}}}}
		case "tools/call":
			result = map[string]any{"content": []any{map[string]any{"type": "text", "text": mcpAnswer}}}
		}
		if enc.Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": result}) != nil {
			return
		}
	}
}
