package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/proxy/toopenai"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "127.0.0.1" || c.Port != "11434" || !c.Demo || c.Engine != defaultEngine || c.EngineSource != "default" {
		t.Fatalf("%+v", c)
	}
	ec := c.EngineConfig
	if !ec.HTTP2 || ec.H2C || ec.MaxIdleConnsPerHost != 50 || ec.MaxConnsPerHost != 500 ||
		ec.IdleConnTimeout != 120*time.Second || ec.DialTimeout != 10*time.Second ||
		ec.ResponseHeaderTimeout != 180*time.Second || ec.IdleReadTimeout != 180*time.Second ||
		ec.WriteTimeout != 30*time.Second || ec.PoolTimeout != 10*time.Second || ec.Proxy != nil {
		t.Fatalf("engine config %+v", ec)
	}
	if c.Proxy.MaxRetries != 2 || c.Proxy.UpstreamURL != "https://api.openai.com/v1" || c.Proxy.PingInterval != 10*time.Second ||
		c.Proxy.MaxBufferedBytes != 16<<20 {
		t.Fatalf("proxy config %+v", c.Proxy)
	}
}

func TestConfigFromEnv(t *testing.T) {
	c, err := loadConfig(env(map[string]string{
		"ENGINE": "fasthttp", "OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
		"HTTP2_ENABLED": "false", "MAX_KEEPALIVE_CONNECTIONS": "7", "MAX_CONNECTIONS": "9",
		"KEEPALIVE_EXPIRY": "2m", "CONNECT_TIMEOUT": "1.5", "READ_TIMEOUT": "60", "STREAM_IDLE_TIMEOUT": "30s",
		"MAX_RETRIES": "0", "HTTPS_PROXY": "http://127.0.0.1:3128", "NO_PROXY": "internal.example",
		"PROXY_API_KEY": "a, b", "HOST": "0.0.0.0", "MAX_BUFFERED_BYTES": "0",
	}))
	if err != nil {
		t.Fatal(err)
	}
	ec := c.EngineConfig
	if c.Engine != "fasthttp" || c.EngineSource != "env" || c.Demo || ec.HTTP2 || ec.MaxIdleConnsPerHost != 7 ||
		ec.MaxConnsPerHost != 9 || ec.IdleConnTimeout != 2*time.Minute || ec.DialTimeout != 1500*time.Millisecond ||
		ec.ResponseHeaderTimeout != time.Minute || ec.IdleReadTimeout != 30*time.Second {
		t.Fatalf("%+v", ec)
	}
	if c.Proxy.MaxRetries >= 0 || len(c.Proxy.APIKeys) != 2 || len(c.Proxy.UpstreamKeys) != 1 || c.Proxy.UpstreamKeys[0] != "sk-x" || c.Proxy.MaxBufferedBytes >= 0 {
		t.Fatalf("%+v", c.Proxy)
	}
	u, _ := urlParse("https://api.openai.com/v1/chat/completions")
	p, err := ec.Proxy(u)
	if err != nil || p == nil || p.Host != "127.0.0.1:3128" {
		t.Fatalf("proxy for https target: %v %v", p, err)
	}
	u, _ = urlParse("https://internal.example/v1")
	if p, _ := ec.Proxy(u); p != nil {
		t.Fatalf("NO_PROXY not honoured: %v", p)
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := loadConfig(env(map[string]string{
		"MAX_CONNECTIONS": "lots", "KEEPALIVE_EXPIRY": "soon", "HTTP2_ENABLED": "maybe",
		"OPENAI_BASE_URL": "ftp://x", "HOST": "0.0.0.0", "SSL_CERT_FILE": "/nonexistent/ca.pem",
	}))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"MAX_CONNECTIONS", "KEEPALIVE_EXPIRY", "HTTP2_ENABLED", "OPENAI_BASE_URL", "PROXY_API_KEY", "SSL_CERT_FILE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
	// Explicitly allowed.
	if _, err := loadConfig(env(map[string]string{"HOST": "0.0.0.0", "ALLOW_UNAUTHENTICATED": "true"})); err != nil {
		t.Fatal(err)
	}
}

func TestCustomCA(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not a cert"), 0o600)
	if _, err := loadConfig(env(map[string]string{"SSL_CERT_FILE": bad})); err == nil || !strings.Contains(err.Error(), "no PEM") {
		t.Fatalf("want a PEM error, got %v", err)
	}
}

func TestDotEnv(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".env")
	os.WriteFile(p, []byte("# comment\nexport CCPROXY_T1=one\nCCPROXY_T2=\"two words\"\nCCPROXY_T3=three # note\nCCPROXY_T4=keep\n"), 0o600)
	t.Setenv("CCPROXY_T4", "already")
	for _, k := range []string{"CCPROXY_T1", "CCPROXY_T2", "CCPROXY_T3"} {
		t.Setenv(k, "") // registers cleanup
		os.Unsetenv(k)
	}
	if _, err := loadDotEnv(p); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"CCPROXY_T1": "one", "CCPROXY_T2": "two words", "CCPROXY_T3": "three", "CCPROXY_T4": "already"} {
		if got := os.Getenv(k); got != want {
			t.Errorf("%s=%q want %q", k, got, want)
		}
	}
	if n, err := loadDotEnv(filepath.Join(dir, "missing")); n != 0 || err != nil {
		t.Fatal("a missing .env is fine")
	}
	os.WriteFile(p, []byte("JUSTAWORD\n"), 0o600)
	if _, err := loadDotEnv(p); err == nil {
		t.Fatal("want a syntax error")
	}
}

func TestEngineRegistryUnknown(t *testing.T) {
	_, err := engine.New("bogus", engine.NewConfig())
	if err == nil || !strings.Contains(err.Error(), "nethttp") {
		t.Fatalf("want an error listing engines, got %v", err)
	}
}

func urlParse(s string) (*url.URL, error) { return url.Parse(s) }

type fixedStats engine.PoolStats

func (f fixedStats) PoolStats() engine.PoolStats { return engine.PoolStats(f) }

// TestLogPool: pool statistics reach the debug log periodically, so that
// `docker logs ccproxy | grep -i pool` finds them.
func TestLogPool(t *testing.T) {
	var buf syncBuffer
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		logPool(fixedStats{Open: 3, Idle: 2, InUse: 1, Created: 7, Reused: 40}, zerolog.New(&buf).Level(zerolog.DebugLevel), time.Millisecond, done)
		close(finished)
	}()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(buf.String(), `"reused":40`); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no pool line: %s", buf.String())
		}
	}
	close(done)
	<-finished
	if !strings.Contains(strings.ToLower(buf.String()), "pool") || !strings.Contains(buf.String(), `"open":3`) {
		t.Fatalf("log: %s", buf.String())
	}
}

// TestConfigOutOfRange: values that parse but cannot be used are refused
// by name, as the README promises for every bad value. Before, a number of
// seconds beyond time.Duration's range (or "inf") overflowed into a
// negative duration that the engine silently replaced with its default,
// and a PORT that is no port number failed later, in net.Listen, without
// naming the variable (after the demo upstream had started).
func TestConfigOutOfRange(t *testing.T) {
	_, err := loadConfig(env(map[string]string{
		"READ_TIMEOUT": "inf", "CONNECT_TIMEOUT": "1e10", "CLIENT_WRITE_TIMEOUT": "+Inf",
		"PING_INTERVAL": "9999999999", "PORT": "http-ish",
	}))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"READ_TIMEOUT", "CONNECT_TIMEOUT", "CLIENT_WRITE_TIMEOUT", "PING_INTERVAL", "PORT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
	for _, port := range []string{"70000", "-1", "abc"} {
		if _, err := loadConfig(env(map[string]string{"PORT": port})); err == nil || !strings.Contains(err.Error(), "PORT") {
			t.Errorf("PORT=%s: want an error naming PORT, got %v", port, err)
		}
	}
	// The largest usable values still pass.
	c, err := loadConfig(env(map[string]string{"READ_TIMEOUT": "1e9", "PORT": "0", "STREAM_IDLE_TIMEOUT": "2540400h"}))
	if err != nil || c.EngineConfig.ResponseHeaderTimeout != 1e9*time.Second || c.Port != "0" {
		t.Fatalf("%v %+v", err, c)
	}
}

// TestDotEnvQuotedValueWithComment: a quoted value followed by a comment
// (`OPENAI_API_KEY="sk-..." # work key`, as dotenv and docker compose
// accept) loses its quotes as well as its comment, and a file saved with a
// UTF-8 byte order mark keeps its first variable's name. Before, the key
// kept its quotes (the upstream then refused it) and the first name
// started with the mark.
func TestDotEnvQuotedValueWithComment(t *testing.T) {
	p := filepath.Join(t.TempDir(), ".env")
	os.WriteFile(p, []byte("\ufeffCCPROXY_Q0=first\r\nCCPROXY_Q1=\"sk-quoted\" # work key\r\nCCPROXY_Q2='single' #x\nCCPROXY_Q3=\"has # inside\"\nCCPROXY_Q4=\"open # not closed\nCCPROXY_Q5=\"a\"b\"\n"), 0o600)
	for _, k := range []string{"CCPROXY_Q0", "CCPROXY_Q1", "CCPROXY_Q2", "CCPROXY_Q3", "CCPROXY_Q4", "CCPROXY_Q5"} {
		t.Setenv(k, "") // registers cleanup
		os.Unsetenv(k)
	}
	if _, err := loadDotEnv(p); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"CCPROXY_Q0": "first", "CCPROXY_Q1": "sk-quoted", "CCPROXY_Q2": "single",
		"CCPROXY_Q3": "has # inside", "CCPROXY_Q4": "\"open", "CCPROXY_Q5": "a\"b"} {
		if got := os.Getenv(k); got != want {
			t.Errorf("%s=%q want %q", k, got, want)
		}
	}
}

// TestConfigUpstreamKeys: OPENAI_API_KEY holds one key or a
// comma-separated list (spaces trimmed); an empty element stops start-up
// with an error that names its place but no key.
func TestConfigUpstreamKeys(t *testing.T) {
	c, err := loadConfig(env(map[string]string{"OPENAI_API_KEY": " sk-one , sk-two,sk-three "}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Proxy.UpstreamKeys, "|"); got != "sk-one|sk-two|sk-three" || c.Proxy.UpstreamKey != "" || c.Demo {
		t.Fatalf("keys %q, key %q, demo %v", got, c.Proxy.UpstreamKey, c.Demo)
	}
	if c.Proxy.KeyBench != 5*time.Minute || c.Proxy.KeyRateLimitBench != 10*time.Second {
		t.Fatalf("benches %v %v", c.Proxy.KeyBench, c.Proxy.KeyRateLimitBench)
	}
	for _, v := range []string{"sk-one,,sk-two", "sk-one,", ", sk-one", "sk-one, ,sk-two"} {
		_, err := loadConfig(env(map[string]string{"OPENAI_API_KEY": v}))
		if err == nil || !strings.Contains(err.Error(), "OPENAI_API_KEY") || !strings.Contains(err.Error(), "empty") ||
			strings.Contains(err.Error(), "sk-one") {
			t.Errorf("OPENAI_API_KEY=%q: %v", v, err)
		}
	}
	c, err = loadConfig(env(map[string]string{"OPENAI_API_KEY": "sk-x", "UPSTREAM_KEY_BENCH": "1m", "UPSTREAM_KEY_RATE_LIMIT_BENCH": "3"}))
	if err != nil || c.Proxy.KeyBench != time.Minute || c.Proxy.KeyRateLimitBench != 3*time.Second {
		t.Fatalf("benches: %v %+v", err, c.Proxy)
	}
}

// TestConfigFallbacks: MODEL_FALLBACKS maps an upstream model to its
// ordered fallbacks; malformed entries are refused at start-up.
func TestConfigFallbacks(t *testing.T) {
	c, err := loadConfig(env(map[string]string{"MODEL_FALLBACKS": "gpt-5=gpt-4.1|gpt-4.1-mini, gpt-5-mini = gpt-4.1-mini "}))
	if err != nil {
		t.Fatal(err)
	}
	fb := c.Proxy.Fallbacks
	if len(fb) != 2 || strings.Join(fb["gpt-5"], "|") != "gpt-4.1|gpt-4.1-mini" || strings.Join(fb["gpt-5-mini"], "|") != "gpt-4.1-mini" {
		t.Fatalf("fallbacks %q", fb)
	}
	for _, v := range []string{"gpt-5", "=gpt-4.1", "gpt-5=", "gpt-5=a||b", "gpt-5=a,gpt-5=b", "gpt-5=gpt-5", "gpt-5=a,,x=b"} {
		if _, err := loadConfig(env(map[string]string{"MODEL_FALLBACKS": v})); err == nil || !strings.Contains(err.Error(), "MODEL_FALLBACKS") {
			t.Errorf("MODEL_FALLBACKS=%q: %v", v, err)
		}
	}
}

// TestConfigTooManyUpstreamKeys: more than 64 upstream keys stop start-up
// with an error that names OPENAI_API_KEY and the counts, never a key
// (before, loadConfig took them and proxy.New refused them later with
// "proxy: more than 64 upstream keys", naming no variable).
func TestConfigTooManyUpstreamKeys(t *testing.T) {
	keys := make([]string, 65)
	for i := range keys {
		keys[i] = fmt.Sprintf("sk-secret-%02d", i)
	}
	_, err := loadConfig(env(map[string]string{"OPENAI_API_KEY": strings.Join(keys, ",")}))
	if err == nil || !strings.Contains(err.Error(), "OPENAI_API_KEY") || !strings.Contains(err.Error(), "65") ||
		!strings.Contains(err.Error(), "64") || strings.Contains(err.Error(), "sk-secret") {
		t.Fatalf("65 keys: %v", err)
	}
	c, err := loadConfig(env(map[string]string{"OPENAI_API_KEY": strings.Join(keys[:64], ",")}))
	if err != nil || len(c.Proxy.UpstreamKeys) != 64 {
		t.Fatalf("64 keys: %v", err)
	}
}

// TestConfigFallbackListedTwice: a fallback model listed twice for one
// model (it would be tried twice) is refused, naming both.
func TestConfigFallbackListedTwice(t *testing.T) {
	_, err := loadConfig(env(map[string]string{"MODEL_FALLBACKS": "gpt-5=gpt-4.1|gpt-4.1-mini|gpt-4.1"}))
	if err == nil || !strings.Contains(err.Error(), "MODEL_FALLBACKS") || !strings.Contains(err.Error(), "gpt-4.1 twice") {
		t.Fatalf("%v", err)
	}
}

// TestConfigMaxOutputTokens: MODEL_MAX_OUTPUT_TOKENS sets per-prefix
// output limits that reach the models' table (longest prefix wins, over
// the built-in entries too); malformed entries stop start-up naming the
// variable.
func TestConfigMaxOutputTokens(t *testing.T) {
	c, err := loadConfig(env(map[string]string{"MODEL_MAX_OUTPUT_TOKENS": " qwen3-coder=65536 , GLM-4.6 = 32768,qwen3-coder-plus=16384,gpt-4o=4096"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ModelsConfig.MaxOutputTokens; len(got) != 4 || got["glm-4.6"] != 32768 || got["qwen3-coder"] != 65536 {
		t.Fatalf("MaxOutputTokens %v", got)
	}
	m, err := toopenai.NewModels(c.ModelsConfig)
	if err != nil {
		t.Fatal(err)
	}
	for model, want := range map[string]int{"qwen3-coder-30b": 65536, "qwen3-coder-plus-1": 16384, "z-ai/glm-4.6": 32768, "gpt-4o-2024-08-06": 4096, "gpt-4.1": 32768, "kimi-k2": 0} {
		if got := m.MaxOutputTokens(model); got != want {
			t.Errorf("MaxOutputTokens(%q) = %d; want %d", model, got, want)
		}
	}
	for _, v := range []string{"qwen3-coder", "=8192", "qwen3-coder=", "qwen3-coder=0", "qwen3-coder=-1", "qwen3-coder=8k", "qwen3-coder=1.5", "a=1,,b=2", "qwen=1,QWEN=2"} {
		if _, err := loadConfig(env(map[string]string{"MODEL_MAX_OUTPUT_TOKENS": v})); err == nil || !strings.Contains(err.Error(), "MODEL_MAX_OUTPUT_TOKENS") {
			t.Errorf("MODEL_MAX_OUTPUT_TOKENS=%q: %v", v, err)
		}
	}
	if c, err := loadConfig(env(nil)); err != nil || c.ModelsConfig.MaxOutputTokens != nil {
		t.Fatalf("unset: %v %v", c.ModelsConfig.MaxOutputTokens, err)
	}
}
