// Command pgo records a CPU profile of kensa's own CLI code path
// (cli.Main, exactly what cmd/kensa runs) over a workload, for building
// a PGO profile (bench/pgo.sh). It runs `kensa ARGS... TARGET` for every target,
// round after round, until -for of CPU time is spent, with output
// discarded. bench/pgo.sh drives it and merges the profiles.
//
// Usage: go run ./bench/pgo -o lint.pprof -for 20s -args "scan -q --format json" TARGET...
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/kensa-sec/kensa/internal/cli"
)

func main() {
	out := flag.String("o", "cpu.pprof", "profile to write")
	budget := flag.Duration("for", 20*time.Second, "CPU time to spend (at least one round runs)")
	args := flag.String("args", "scan -q --format json", "kensa arguments before each target (split on spaces)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "pgo: no targets")
		os.Exit(2)
	}
	if err := run(*out, *budget, strings.Fields(*args), flag.Args()); err != nil {
		fmt.Fprintf(os.Stderr, "pgo: %v\n", err)
		os.Exit(1)
	}
}

func run(out string, budget time.Duration, prefix, targets []string) error {
	fh, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("create profile: %w", err)
	}
	defer fh.Close()
	if err := pprof.StartCPUProfile(fh); err != nil {
		return fmt.Errorf("start profile: %w", err)
	}
	start, rounds := cpuTime(), 0
	for rounds == 0 || cpuTime()-start < budget {
		for _, t := range targets {
			argv := append(append([]string{}, prefix...), t)
			// Findings make scan exit 1 with --exit-code; only bad input (2) is an error here.
			if code := cli.Main(argv, io.Discard, io.Discard); code == cli.ExitBadInput {
				pprof.StopCPUProfile()
				return fmt.Errorf("kensa %s: exit %d", strings.Join(argv, " "), code)
			}
		}
		rounds++
	}
	pprof.StopCPUProfile()
	fmt.Fprintf(os.Stderr, "pgo: %s: %d rounds of %d targets, %v CPU\n", out, rounds, len(targets), (cpuTime() - start).Round(time.Millisecond))
	return fh.Close()
}

// cpuTime is the user+system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
