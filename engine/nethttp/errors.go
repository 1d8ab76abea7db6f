package nethttp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/ccproxy/ccproxy/engine"
)

func errPoolTimeout(d time.Duration, max int) error {
	return fmt.Errorf("no free connection within %v (%d in use): %w", d, max, engine.ErrPoolTimeout)
}

// classify turns a RoundTrip error into one that wraps the matching engine
// sentinel, if any.
func classify(c *call, err error) error {
	switch {
	case c.fired.Load() == phaseHead:
		return fmt.Errorf("nethttp: no response head within %v: %w", c.e.cfg.ResponseHeaderTimeout, engine.ErrHeaderTimeout)
	case c.parent.Err() != nil:
		// The caller cancelled: report its reason, keeping net/http's error.
		if errors.Is(err, c.parent.Err()) {
			return fmt.Errorf("nethttp: %w", err)
		}
		return fmt.Errorf("nethttp: %w (%w)", c.parent.Err(), err)
	case isDialError(err):
		return fmt.Errorf("nethttp: %w: %w", engine.ErrDial, err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		// Only write deadlines are set on connections.
		return fmt.Errorf("nethttp: %w: %w", engine.ErrWriteTimeout, err)
	}
	return fmt.Errorf("nethttp: %w", err)
}

// bodyError maps an error from reading the body.
func (e *Engine) bodyError(c *call, err error) error {
	switch {
	case c.fired.Load() == phaseBody:
		return fmt.Errorf("nethttp: no body data within %v: %w", e.cfg.IdleReadTimeout, engine.ErrIdleTimeout)
	case c.parent.Err() != nil && !errors.Is(err, c.parent.Err()):
		return fmt.Errorf("nethttp: %w (%w)", c.parent.Err(), err)
	}
	// io.ErrUnexpectedEOF and friends pass through unchanged.
	return err
}

// isDialError reports whether err happened while establishing the
// connection (TCP connect, proxy CONNECT or TLS handshake).
func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect") {
		return true
	}
	var (
		rh tls.RecordHeaderError
		al tls.AlertError
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		hn x509.HostnameError
		ci x509.CertificateInvalidError
	)
	if errors.As(err, &rh) || errors.As(err, &al) || errors.As(err, &cv) ||
		errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) {
		return true
	}
	// net/http's TLS handshake timeout error type is unexported.
	return strings.Contains(err.Error(), "TLS handshake timeout")
}
