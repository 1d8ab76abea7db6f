package nethttp

import (
	"testing"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/engine/enginetest"
)

func factory(cfg engine.Config) (engine.Engine, error) { return New(cfg) }

func TestConformance(t *testing.T) {
	enginetest.Run(t, enginetest.Harness{
		New:       factory,
		Upstreams: []string{"h1", "h1tls", "h2c", "h2tls"},
		WantProto: map[string]string{"h1": "HTTP/1.1", "h1tls": "HTTP/1.1", "h2c": "HTTP/2.0", "h2tls": "HTTP/2.0"},
	})
}

func TestConformanceHTTP2Disabled(t *testing.T) {
	enginetest.Run(t, enginetest.Harness{
		New: func(cfg engine.Config) (engine.Engine, error) {
			cfg.HTTP2 = false
			return New(cfg)
		},
		Upstreams: []string{"h2tls"},
		WantProto: map[string]string{"h2tls": "HTTP/1.1"},
	})
}
