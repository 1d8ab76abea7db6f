//go:build unix

package bufpool

const mapsMemory = true
