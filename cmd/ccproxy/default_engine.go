//go:build !fasthttp || nofasthttp

package main

// defaultEngine is used when ENGINE is unset.
const defaultEngine = "nethttp"
