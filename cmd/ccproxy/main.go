// Command ccproxy serves the Anthropic Messages API on top of an
// OpenAI-compatible upstream. Configuration comes from the environment
// (and an optional .env file); see README.md for every variable.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/proxy"
	"github.com/ccproxy/ccproxy/proxy/metrics"
	"github.com/ccproxy/ccproxy/proxy/tokens"
	"github.com/ccproxy/ccproxy/proxy/toopenai"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ccproxy:", err)
		os.Exit(1)
	}
}

func run() error {
	envFile := os.Getenv("ENV_FILE")
	if envFile == "" {
		envFile = ".env"
	}
	if _, err := loadDotEnv(envFile); err != nil {
		return fmt.Errorf("reading %s: %w", envFile, err)
	}
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log, err := newLogger(cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}

	if cfg.Demo {
		up, err := fakeupstream.Start(fakeupstream.Options{
			Protocol: fakeupstream.H1, ChunkInterval: 25 * time.Millisecond, Reasoning: true,
		})
		if err != nil {
			return fmt.Errorf("starting the demo upstream: %w", err)
		}
		defer up.Close()
		cfg.Proxy.UpstreamURL = up.URL + "/v1"
		cfg.Proxy.UpstreamKey, cfg.Proxy.UpstreamKeys = "demo", nil
		log.Warn().Str("upstream", cfg.Proxy.UpstreamURL).
			Msg("DEMO MODE: no OPENAI_API_KEY/OPENAI_BASE_URL set, answering from the built-in fake upstream (canned replies, no real model). Set OPENAI_API_KEY to use a real one.")
	} else if len(cfg.Proxy.UpstreamKeys) == 0 {
		log.Warn().Str("upstream", cfg.Proxy.UpstreamURL).Msg("OPENAI_API_KEY is not set: sending requests upstream without credentials")
	}

	ec := cfg.EngineConfig
	ec.Logger = log.With().Str("component", "engine").Logger()
	eng, err := engine.New(cfg.Engine, ec.Defaults())
	if err != nil {
		return fmt.Errorf("ENGINE=%s: %w", cfg.Engine, err)
	}
	defer eng.Close()
	settings := map[string]any{}
	if d, ok := eng.(engine.Describer); ok {
		settings = d.Describe()
	}
	log.Info().Str("engine", cfg.Engine).Str("source", cfg.EngineSource).Strs("compiled_in", engine.Names()).
		Interface("settings", settings).Msg("upstream engine selected")

	models, err := toopenai.NewModels(cfg.ModelsConfig)
	if err != nil {
		return fmt.Errorf("model configuration: %w", err)
	}
	info := metrics.Info{Version: version, Engine: cfg.Engine, Settings: settings, Models: models.Names()}
	if sr, ok := eng.(engine.StatsReporter); ok {
		info.Pool = func() (engine.PoolStats, bool) { return sr.PoolStats(), true }
	}
	m := metrics.New(info)

	pc := cfg.Proxy
	pc.Engine, pc.EngineName, pc.Models, pc.Version = eng, cfg.Engine, models, version
	pc.Tokens, pc.Metrics = tokens.NewCounter(4096), m
	// The tokenizer's vocabulary (~10 MB of heap, 100-300 ms to build) is
	// loaded by the first count_tokens request, not at start-up: most
	// sessions never count tokens, and every open stream pays for a larger
	// heap through the GC's headroom.
	pc.Logger = log
	h, err := proxy.New(pc)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, cfg.Port))
	if err != nil {
		return err
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           h,
		BaseContext:       h.BaseContext, // Stop reaches every request through it
		ConnContext:       h.ConnContext, // a request that waited in a queue sees if its client left
		Protocols:         &protos,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          nil,
	}
	if cfg.PprofAddr != "" {
		go servePprof(cfg.PprofAddr, log)
	}
	if sr, ok := eng.(engine.StatsReporter); ok && log.GetLevel() <= zerolog.DebugLevel {
		done := make(chan struct{})
		defer close(done)
		go logPool(sr, log, 30*time.Second, done)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info().Str("addr", "http://"+ln.Addr().String()).Str("upstream", pc.UpstreamURL).
		Bool("auth", len(pc.APIKeys) > 0).Msg("ccproxy listening")

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop()
	log.Info().Dur("grace", cfg.ShutdownGrace).Msg("shutting down: finishing running requests")
	gctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(gctx); err != nil {
		// Grace is over: running streams end with an error event.
		h.Stop()
		fctx, fcancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer fcancel()
		if err := srv.Shutdown(fctx); err != nil {
			srv.Close()
		}
	}
	log.Info().Msg("stopped")
	return nil
}

// newLogger builds the process logger: JSON by default, a console format
// on a terminal or with LOG_FORMAT=console.
func newLogger(level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil {
		return zerolog.Nop(), fmt.Errorf("LOG_LEVEL=%q: %w", level, err)
	}
	if format == "" {
		format = "json"
		if isatty.IsTerminal(os.Stderr.Fd()) {
			format = "console"
		}
	}
	var l zerolog.Logger
	switch format {
	case "json":
		l = zerolog.New(os.Stderr)
	case "console":
		l = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly})
	default:
		return zerolog.Nop(), fmt.Errorf("LOG_FORMAT=%q: want json or console", format)
	}
	return l.Level(lvl).With().Timestamp().Logger(), nil
}

// servePprof serves net/http/pprof on its own address (PPROF_ADDR), never
// on the proxy's port.
func servePprof(addr string, log zerolog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info().Str("addr", addr).Msg("pprof listening")
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error().Err(err).Msg("pprof server")
	}
}

// logPool logs connection-pool statistics at debug level every interval
// until done is closed.
func logPool(sr engine.StatsReporter, log zerolog.Logger, every time.Duration, done <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		s := sr.PoolStats()
		log.Debug().Int("open", s.Open).Int("idle", s.Idle).Int("in_use", s.InUse).
			Int64("created", s.Created).Int64("reused", s.Reused).Int64("waits", s.Waits).Msg("upstream connection pool")
	}
}
