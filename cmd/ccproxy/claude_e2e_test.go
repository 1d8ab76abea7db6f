package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// claudeBinary finds the Claude Code CLI: $CLAUDE_BIN, the copy `make test`
// installs under .cache/, or claude on PATH; without one the test fails
// under CI and is skipped elsewhere.
func claudeBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("CLAUDE_BIN"); b != "" {
		return b
	}
	local, _ := filepath.Abs("../../.cache/claude-code/node_modules/.bin/claude")
	if _, err := os.Stat(local); err == nil {
		return local
	}
	if p, err := exec.LookPath("claude"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Claude Code CLI not installed: `make test` installs it with npm (make claude-cli)")
	}
	t.Skip("Claude Code CLI not installed (make claude-cli)")
	return ""
}

// TestClaudeCodeCLI runs the real Claude Code CLI against ccproxy in demo
// mode, as a new user would: a -p prompt that makes a Bash tool round trip.
func TestClaudeCodeCLI(t *testing.T) {
	claude := claudeBinary(t)
	srv := startServer(t, buildBinary(t, ""))
	base, logs := srv.base, srv.logs

	// A -p prompt that makes a Bash tool round trip.
	t.Run("bash", func(t *testing.T) {
		res := runClaude(t, claude, base, logs, "run a command", "--allowedTools", "Bash")
		// The demo upstream asks for `echo hello from the ccproxy demo upstream`;
		// Claude Code runs it and sends the output back; the demo quotes it.
		if res.IsError || res.StopReason != "end_turn" || !strings.Contains(res.Result, "The command printed: hello from the ccproxy demo upstream") {
			t.Fatalf("claude result %+v", res)
		}
		l := logs.String()
		if !strings.Contains(l, `"stop_reason":"tool_use"`) || !strings.Contains(l, `"stop_reason":"end_turn"`) {
			t.Fatalf("ccproxy log lacks the tool round trip:\n%s", l)
		}
	})

	// An MCP server whose tool name (mcp__<server>__<tool>) is 88
	// characters: past OpenAI's 64, which the demo upstream enforces. The
	// only tool offered, the demo upstream calls it (by the alias ccproxy
	// sent); Claude Code must get the tool's real name back to run it, and
	// sends the result back in a conversation naming it again.
	t.Run("mcp-long-tool-name", func(t *testing.T) {
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := json.Marshal(map[string]any{"mcpServers": map[string]any{mcpServer: map[string]any{
			"command": self, "env": map[string]string{"CCPROXY_TEST_MCP_SERVER": "1"},
		}}})
		res := runClaude(t, claude, base, logs, "search the knowledge base",
			"--mcp-config", string(cfg), "--strict-mcp-config", "--tools", "", "--allowedTools", "mcp__"+mcpServer+"__"+mcpTool)
		if res.IsError || res.StopReason != "end_turn" || !strings.Contains(res.Result, "The command printed: "+mcpAnswer) {
			t.Fatalf("claude result %+v\nccproxy log:\n%s", res, logs.String())
		}
	})
}

// claudeResult is the part of Claude Code's --output-format json answer the
// tests check.
type claudeResult struct {
	Result     string `json:"result"`
	StopReason string `json:"stop_reason"`
	IsError    bool   `json:"is_error"`
}

// runClaude runs one `claude -p prompt` against ccproxy at base.
func runClaude(t *testing.T, claude, base string, logs *syncBuffer, prompt string, args ...string) claudeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, claude, append([]string{"-p", prompt, "--output-format", "json"}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(cleanEnv(), "HOME="+t.TempDir(), "ANTHROPIC_BASE_URL="+base, "ANTHROPIC_API_KEY=x",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1", "ENABLE_TOOL_SEARCH=false")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("claude: %v\n%s\nccproxy log:\n%s", err, out, logs.String())
	}
	var res claudeResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("claude output: %v: %s", err, out)
	}
	return res
}
