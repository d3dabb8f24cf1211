// Package initgc turns the garbage collector off while kensa's packages
// initialize, and back on when main starts (Restore).
//
// Dependencies compile regular expressions and JSON schemas at init
// (compose-go's JSON-schema library alone allocates 1.7 MB in 21,000
// objects), which grows the heap past the runtime's 4 MB starting goal
// twice before main runs: two collections that cost 4 ms of every
// kensa run's 19 ms start (perf stat, `kensa version`, 2026-12-03). The
// init allocations are a few MB, kept or not.
//
// It works because Go initializes packages in import-path order among
// those whose imports are done: this package imports only runtime/debug,
// so it runs before every dependency that sorts after
// github.com/kensa-sec (the JSON-schema, OPA, gRPC and Kubernetes
// packages, and the standard library's net, regexp and text packages).
// TestInitOrder checks that it still does.
package initgc

import "runtime/debug"

// percent is the collector's setting before init turned it off: GOGC's,
// or 100.
var percent = debug.SetGCPercent(-1)

// Restore turns the collector back on with the setting it had.
func Restore() { debug.SetGCPercent(percent) }
