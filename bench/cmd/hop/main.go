// Command hop is a calibration baseline for the benchmark harness, not a
// product: a bare Go httputil.ReverseProxy that translates nothing.
//
// ccbench runs it as the reference configuration "hop", driven with the
// same requests as "direct", so the report shows what any Go proxy process
// costs (CPU per request, RSS, added latency) before translation, and how
// far ccproxy is above it.
//
// It listens on HOST:PORT (default 127.0.0.1:8082), answers GET /health
// with 200 itself and forwards every other request, path unchanged, to
// UPSTREAM_URL. Everything is Go's default httputil.NewSingleHostReverseProxy
// except: FlushInterval -1 (SSE streams are flushed on every write), and a
// Transport (http.DefaultTransport's settings otherwise) that keeps up to
// 256 idle connections per host and speaks HTTP/1.1 only to the upstream,
// and each request is served full duplex
// (http.ResponseController.EnableFullDuplex). Without that, a plain
// ReverseProxy breaks about one stream in a hundred here: once the
// upstream's answer starts, the server closes the inbound request body
// under the Transport, which still reads it once more after sending the
// declared length, fails and closes the upstream connection mid-answer
// (golang/go#40747; the client sees the stream cut, the hop logs "read
// error during body copy: use of closed network connection").
//
// SIGTERM or SIGINT shuts it down gracefully.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// idleConnsPerHost is above the harness's highest closed-loop concurrency
// (64) with room for the open-loop run, so the pool does not churn.
const idleConnsPerHost = 256

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hop:", err)
		os.Exit(1)
	}
}

func run() error {
	raw := os.Getenv("UPSTREAM_URL")
	if raw == "" {
		return errors.New("UPSTREAM_URL is not set")
	}
	target, err := url.Parse(raw)
	if err != nil || target.Scheme == "" || target.Host == "" {
		return fmt.Errorf("UPSTREAM_URL %q is not an absolute URL", raw)
	}
	host, port := os.Getenv("HOST"), os.Getenv("PORT")
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "8082"
	}

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = idleConnsPerHost
	tr.MaxIdleConnsPerHost = idleConnsPerHost
	tr.ForceAttemptHTTP2 = false
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP1(true)

	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1
	rp.Transport = tr

	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex() // see the package comment
		rp.ServeHTTP(w, r)
	})
	srv := &http.Server{Addr: net.JoinHostPort(host, port), Handler: mux}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("hop: listening on %s, forwarding to %s", srv.Addr, target)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
