// Package metrics owns ensign's Prometheus metrics: one registry, every
// metric named ensign_*, with bounded labels only (never a SHA, PR number or
// user). Other packages do not import it; cmd/ensign records into it at the
// seams it wires (canary handling, the HTTP mux), so instrumenting ensign
// never changes a service's code.
//
// A Registry is safe for concurrent use. It holds no state beyond the
// counters, gauges and histograms it exports.
package metrics
