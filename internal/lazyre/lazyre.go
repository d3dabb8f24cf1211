// Package lazyre holds regular expressions compiled on first use. A
// package-level regexp.MustCompile runs at program start for every kensa
// command, whether it matches anything or not; kensa links some hundred of
// them, and compiling them all cost a few milliseconds of every run's
// start-up (GODEBUG=inittrace=1), which a one-layer image scan pays in
// full.
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr on its first call and returns
// the same *regexp.Regexp ever after. Like regexp.MustCompile, a bad
// expression panics, on that first call.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
