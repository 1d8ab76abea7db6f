package main

// The net/http engine is always linked: it is the baseline.
import _ "github.com/ccproxy/ccproxy/engine/nethttp"
