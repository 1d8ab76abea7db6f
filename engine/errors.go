package engine

import "errors"

// Errors shared by engines. Engines wrap them (fmt.Errorf("...: %w", ...))
// so that callers can classify failures with errors.Is.
var (
	// ErrDial: the connection to the upstream (or the forward proxy) could not
	// be established, including TLS handshake failures. Nothing was sent.
	ErrDial = errors.New("engine: dial upstream")
	// ErrHeaderTimeout: no response head arrived within ResponseHeaderTimeout.
	ErrHeaderTimeout = errors.New("engine: timeout awaiting response headers")
	// ErrIdleTimeout: a body read waited longer than IdleReadTimeout.
	ErrIdleTimeout = errors.New("engine: timeout between response body reads")
	// ErrPoolTimeout: no connection became free within PoolTimeout.
	ErrPoolTimeout = errors.New("engine: timeout awaiting a free connection")
	// ErrWriteTimeout: writing the request took longer than WriteTimeout.
	ErrWriteTimeout = errors.New("engine: timeout writing request")
)

// IsTimeout reports whether err is one of the engine timeouts above or
// any error that says Timeout() == true.
func IsTimeout(err error) bool {
	if errors.Is(err, ErrHeaderTimeout) || errors.Is(err, ErrIdleTimeout) ||
		errors.Is(err, ErrPoolTimeout) || errors.Is(err, ErrWriteTimeout) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
