//go:build !nofasthttp

package main

// -tags nofasthttp leaves the fasthttp engine (and fasthttp) out of the binary.
import _ "github.com/ccproxy/ccproxy/engine/fasthttp"
