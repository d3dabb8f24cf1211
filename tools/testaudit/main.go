// Command testaudit reads `go test -json` output on stdin, prints what a
// human needs (failing tests' output, a per-package summary, every skipped
// test with its reason) and exits non-zero when any test failed or was
// skipped without an entry in the allow-list. It keeps skipped tests from
// passing silently in CI.
//
// Usage:
//
//	go test -json ./... | go run ./tools/testaudit -allow .ci/allowed-skips
//
// The allow-list holds one `PATTERN<TAB>reason` per line: PATTERN is a
// regular expression matched against "<import path> <TestName>" (it may hold
// spaces, hence the TAB); `#` starts a comment line.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type allowRule struct {
	re     *regexp.Regexp
	reason string
}

func main() {
	allowPath := flag.String("allow", "", "allow-list of tests that may skip")
	flag.Parse()
	allow, err := loadAllow(*allowPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testaudit: %v\n", err)
		os.Exit(2)
	}
	os.Exit(audit(os.Stdin, os.Stdout, allow))
}

func loadAllow(path string) ([]allowRule, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("allow-list: %w", err)
	}
	var out []allowRule
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, reason, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("allow-list %s:%d: want PATTERN<TAB>reason", path, i+1)
		}
		re, err := regexp.Compile(name)
		if err != nil {
			return nil, fmt.Errorf("allow-list %s:%d: %w", path, i+1, err)
		}
		if strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("allow-list %s:%d: %s has no reason", path, i+1, name)
		}
		out = append(out, allowRule{re: re, reason: strings.TrimSpace(reason)})
	}
	return out, nil
}

type pkgStats struct {
	pass, fail, skip int
	elapsed          float64
	result           string
}

func audit(r io.Reader, w io.Writer, allow []allowRule) int {
	output := map[string]*strings.Builder{} // pkg/test → output
	stats := map[string]*pkgStats{}
	var failed, skipped []string
	skipReason := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			fmt.Fprintln(w, string(line)) // build errors and other plain text
			continue
		}
		key := e.Package + " " + e.Test
		st := stats[e.Package]
		if st == nil {
			st = &pkgStats{}
			stats[e.Package] = st
		}
		switch e.Action {
		case "output":
			b := output[key]
			if b == nil {
				b = &strings.Builder{}
				output[key] = b
			}
			b.WriteString(e.Output)
		case "pass", "fail", "skip":
			if e.Test == "" {
				st.result, st.elapsed = e.Action, e.Elapsed
				if e.Action == "fail" {
					failed = append(failed, key)
				}
				continue
			}
			switch e.Action {
			case "pass":
				st.pass++
			case "fail":
				st.fail++
				failed = append(failed, key)
			case "skip":
				st.skip++
				skipped = append(skipped, key)
				skipReason[key] = lastMeaningfulLine(output[key])
			}
		}
	}
	for _, k := range failed {
		fmt.Fprintf(w, "--- FAIL %s\n", k)
		if b := output[k]; b != nil {
			fmt.Fprint(w, b.String())
		}
	}
	pkgs := make([]string, 0, len(stats))
	for p := range stats {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	total := pkgStats{}
	for _, p := range pkgs {
		s := stats[p]
		if s.result == "" {
			continue
		}
		total.pass += s.pass
		total.fail += s.fail
		total.skip += s.skip
		fmt.Fprintf(w, "%-4s %-60s %6.1fs  pass %d fail %d skip %d\n", s.result, p, s.elapsed, s.pass, s.fail, s.skip)
	}
	bad := len(failed) > 0
	if len(skipped) > 0 {
		fmt.Fprintln(w, "skipped tests:")
	}
	for _, k := range skipped {
		why := "NOT ALLOWED"
		for _, a := range allow {
			if a.re.MatchString(k) {
				why = "allowed: " + a.reason
				break
			}
		}
		if why == "NOT ALLOWED" {
			bad = true
		}
		fmt.Fprintf(w, "  %s — %s [%s]\n", k, skipReason[k], why)
	}
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped\n", total.pass, total.fail, total.skip)
	if bad {
		fmt.Fprintln(w, "testaudit: FAIL (failed tests, failed packages or skips not in the allow-list)")
		return 1
	}
	return 0
}

// lastMeaningfulLine returns the skip message from a test's output.
func lastMeaningfulLine(b *strings.Builder) string {
	if b == nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "--- SKIP") && !strings.HasPrefix(l, "=== ") {
			return l
		}
	}
	return ""
}
