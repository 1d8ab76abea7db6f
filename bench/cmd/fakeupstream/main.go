// Command fakeupstream runs ccproxy's fake OpenAI upstream so that a human
// can point ccproxy (or curl) at it. It prints the base URL, and for -proto
// tls writes the CA certificate to a file usable as SSL_CERT_FILE.
package main

import (
	"flag"
	"fmt"
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
		caFile      = flag.String("ca-file", "fakeupstream-ca.pem", "where to write the CA certificate (tls only)")
		verbose     = flag.Bool("v", false, "log every request")
	)
	flag.Parse()

	level := zerolog.InfoLevel
	if *verbose {
		level = zerolog.DebugLevel
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}).Level(level).With().Timestamp().Logger()

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
		Logger:          log,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakeupstream:", err)
		os.Exit(1)
	}
	defer srv.Close()
	if pem := srv.CAPEM(); pem != nil {
		if err := os.WriteFile(*caFile, pem, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "fakeupstream: write ca:", err)
			os.Exit(1)
		}
		log.Info().Str("file", *caFile).Msg("CA certificate written (use as SSL_CERT_FILE)")
	}
	log.Info().Str("url", srv.URL+"/v1").Str("proto", *proto).Msg("fake OpenAI upstream listening")

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}
