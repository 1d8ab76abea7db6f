//go:build !unix

package bufpool

const mapsMemory = false
