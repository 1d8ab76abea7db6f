// Package metrics records what ccproxy does (request counts, errors,
// latencies, retries, circuit-breaker state, tokens, bytes and compression,
// connection-pool statistics) and serves it twice: as JSON on /v1/metrics
// for operators with curl and jq, and as Prometheus text exposition on
// /metrics.
//
// Both endpoints read the same atomic counters, so they always agree. The
// hot path, Metrics.Observe, takes no lock and allocates nothing once a
// label combination has been seen: it maps every label to a small fixed
// index, increments atomics and is safe for concurrent use.
//
// # Bounded labels
//
// Label values never come from arbitrary client input. Routes, error types,
// retry causes, encodings and stop reasons come from fixed sets (anything
// else is "other"); resolved models must be one of Info.Models (else
// "other"); requested models are one of Info.Models or else their family
// ("opus", "sonnet", "haiku") or "other". An empty model is "none". HTTP
// statuses outside 100-599 are "other".
//
// # Latency precision
//
// Each latency kind keeps a log-linear bucket array in microseconds:
// exact below 32 µs, then 32 linear sub-buckets per power of two, so a
// reported percentile (the midpoint of its bucket) is within about 1.6% of
// the true sample value. Values above 2^37 µs (about 38 hours) land in
// the last bucket. Percentiles are computed at scrape time, twice: over all
// observations since start (latency_ms), and over those of the last 5 to 6
// minutes (latency_ms_recent: one slot per minute of the monotonic clock,
// six slots reused in turn, in buckets of 8 per power of two, so within
// about 6%; an observation racing with a slot's reuse may be lost). The
// Prometheus histograms are counted separately with exact bucket
// boundaries, since start: Prometheus computes windows itself.
package metrics
