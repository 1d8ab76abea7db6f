package engine

// PoolStats is a snapshot of an engine's connection pool. Counters
// (Created, Reused, Waits) only grow; gauges describe the moment of the
// snapshot.
type PoolStats struct {
	Open    int   // connections currently open (idle + in use)
	Idle    int   // open connections not carrying a request
	InUse   int   // open connections carrying a request
	Created int64 // connections dialed since start
	Reused  int64 // requests served on an already open connection
	Waits   int64 // requests that had to wait for a free connection
}

// StatsReporter is implemented by engines that can report pool statistics.
type StatsReporter interface {
	PoolStats() PoolStats
}

// Describer is implemented by engines that can describe their effective
// settings (protocols, limits, timeouts) for logs and /v1/metrics.
type Describer interface {
	Describe() map[string]any
}
