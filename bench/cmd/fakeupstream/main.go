// Command fakeupstream runs ccproxy's fake OpenAI upstream as its own
// process: for a human pointing ccproxy (or curl) at it, and for the bench
// harness (bench/cmd/ccbench), which spawns it (fakeupstream.Spawn) so that
// no load client shares a process with the upstream it measures.
//
// Once listening it prints one JSON line on stdout (fakeupstream.Ready:
// event "ready", url, addr, protocol, ca_file for tls, pid); its logs go to
// stderr. For -proto tls it writes the CA certificate to -ca-file, usable
// as SSL_CERT_FILE. It exits on SIGTERM or SIGINT and, with -exit-on-eof,
// when its stdin reaches EOF (its parent closed the pipe or died).
// -control serves the control endpoints (fakeupstream.ControlPrefix).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ccproxy/ccproxy/bench/fakeupstream"
	"github.com/rs/zerolog"
)

func main() {
	var (
		addr        = flag.String("addr", "127.0.0.1:8089", "listen address")
		proto       = flag.String("proto", "h1", "protocol: h1, h2c or tls")
		chunks      = flag.Int("chunks", fakeupstream.DefaultChunks, "content chunks per streamed reply")
		replyBytes  = flag.Int("reply-bytes", fakeupstream.DefaultReplyBytes, "approximate reply text size")
		interval    = flag.Duration("chunk-interval", 0, "delay between streamed chunks")
		firstChunk  = flag.Duration("first-chunk-delay", 0, "delay between the headers and the first chunk")
		headerDelay = flag.Duration("header-delay", 0, "delay before the response headers")
		compression = flag.String("compression", "", `"" (none), "auto", gzip, deflate, br or zstd`)
		reasoning   = flag.Bool("reasoning", false, "emit reasoning_content when the request has reasoning_effort")
		textOnly    = flag.Bool("text-only", false, "answer every turn with text, never a tool call (the benchmark's setting)")
		control     = flag.Bool("control", false, "serve the control endpoints under "+fakeupstream.ControlPrefix+" (options, stats, last-request; JSON)")
		exitOnEOF   = flag.Bool("exit-on-eof", false, "exit when stdin reaches EOF (for a parent process holding the other end of a pipe)")
		caFile      = flag.String("ca-file", "fakeupstream-ca.pem", "where to write the CA certificate (tls only)")
		verbose     = flag.Bool("v", false, "log every request")
	)
	flag.Parse()
	// Before the ready line: a parent may signal as soon as it has read it.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)

	level := zerolog.InfoLevel
	if *verbose {
		level = zerolog.DebugLevel
	}
	// No colour codes unless a terminal reads them: a parent (Spawn) quotes
	// the end of this log in its errors.
	st, err := os.Stderr.Stat()
	tty := err == nil && st.Mode()&os.ModeCharDevice != 0
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly, NoColor: !tty}).Level(level).With().Timestamp().Logger()

	srv, err := fakeupstream.Start(fakeupstream.Options{
		Protocol:        fakeupstream.Protocol(*proto),
		Addr:            *addr,
		HeaderDelay:     *headerDelay,
		FirstChunkDelay: *firstChunk,
		ChunkInterval:   *interval,
		Chunks:          *chunks,
		ReplyBytes:      *replyBytes,
		Compression:     *compression,
		Reasoning:       *reasoning,
		TextOnly:        *textOnly,
		Control:         *control,
		Logger:          log,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakeupstream:", err)
		os.Exit(1)
	}
	defer srv.Close()
	ready := fakeupstream.Ready{Event: fakeupstream.ReadyEvent, URL: srv.URL, Addr: srv.Addr(), Protocol: srv.Protocol(), Pid: os.Getpid()}
	if pem := srv.CAPEM(); pem != nil {
		if err := os.WriteFile(*caFile, pem, 0o644); err != nil {
			srv.Close()
			fmt.Fprintln(os.Stderr, "fakeupstream: write ca:", err)
			os.Exit(1)
		}
		ready.CAFile = *caFile
		log.Info().Str("file", *caFile).Msg("CA certificate written (use as SSL_CERT_FILE)")
	}
	log.Info().Str("url", srv.URL+"/v1").Str("proto", *proto).Bool("control", *control).Msg("fake OpenAI upstream listening")
	line, err := json.Marshal(ready)
	if err != nil {
		srv.Close()
		fmt.Fprintln(os.Stderr, "fakeupstream: ready line:", err)
		os.Exit(1)
	}
	if _, err := os.Stdout.Write(append(line, '\n')); err != nil {
		srv.Close()
		fmt.Fprintln(os.Stderr, "fakeupstream: ready line:", err)
		os.Exit(1)
	}

	eof := make(chan struct{})
	if *exitOnEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			close(eof)
		}()
	}
	select {
	case s := <-sig:
		log.Info().Str("signal", s.String()).Msg("stopping")
	case <-eof:
		log.Info().Msg("stdin closed: stopping")
	}
}
