package fix

import (
	"fmt"
	"strings"
)

// UnifiedDiff returns a unified diff (3 lines of context) from a to b, with
// the file names given; "" when they are equal.
func UnifiedDiff(nameA, nameB string, a, b []byte) string {
	if string(a) == string(b) {
		return ""
	}
	al, bl := splitKeep(string(a)), splitKeep(string(b))
	ops := diffLines(al, bl)
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", nameA, nameB)
	const ctx = 3
	// Group the edit script into hunks.
	type op struct {
		kind   byte // ' ', '-', '+'
		ai, bi int
	}
	var script []op
	ai, bi := 0, 0
	for _, k := range ops {
		script = append(script, op{k, ai, bi})
		switch k {
		case ' ':
			ai++
			bi++
		case '-':
			ai++
		case '+':
			bi++
		}
	}
	i := 0
	for i < len(script) {
		for i < len(script) && script[i].kind == ' ' {
			i++
		}
		if i >= len(script) {
			break
		}
		start := max(i-ctx, 0)
		end := i
		for end < len(script) {
			if script[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(script) && script[run].kind == ' ' {
				run++
			}
			if run == len(script) || run-end > 2*ctx {
				end = min(end+ctx, len(script))
				break
			}
			end = run
		}
		var na, nb int
		for _, o := range script[start:end] {
			if o.kind != '+' {
				na++
			}
			if o.kind != '-' {
				nb++
			}
		}
		sa, sbn := script[start].ai+1, script[start].bi+1
		if na == 0 {
			sa--
		}
		if nb == 0 {
			sbn--
		}
		fmt.Fprintf(&sb, "@@ -%s +%s @@\n", hunkRange(sa, na), hunkRange(sbn, nb))
		for _, o := range script[start:end] {
			line := ""
			switch o.kind {
			case ' ', '-':
				line = al[o.ai]
			case '+':
				line = bl[o.bi]
			}
			sb.WriteByte(o.kind)
			sb.WriteString(line)
			if !strings.HasSuffix(line, "\n") {
				sb.WriteString("\n\\ No newline at end of file\n")
			}
		}
		i = end
	}
	return sb.String()
}

func hunkRange(start, n int) string {
	if n == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}

// splitKeep splits s into lines, each keeping its "\n".
func splitKeep(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// diffLines returns a shortest edit script from a to b as a string of
// ' ' (keep), '-' (delete a line of a) and '+' (insert a line of b), by
// Myers' O((N+M)D) algorithm: fast when the files differ in few lines.
func diffLines(a, b []string) []byte {
	// Trim the common prefix and suffix first.
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	out := make([]byte, 0, len(a)+len(b))
	for i := 0; i < pre; i++ {
		out = append(out, ' ')
	}
	out = append(out, myers(ma, mb)...)
	for i := 0; i < suf; i++ {
		out = append(out, ' ')
	}
	return out
}

func myers(a, b []string) []byte {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		out := make([]byte, 0, n+m)
		for i := 0; i < n; i++ {
			out = append(out, '-')
		}
		for i := 0; i < m; i++ {
			out = append(out, '+')
		}
		return out
	}
	maxD := n + m
	off := maxD
	v := make([]int, 2*maxD+2)
	var trace [][]int
	for d := 0; d <= maxD; d++ {
		// Only diagonals -d..d are read from this snapshot: O(D²) memory.
		trace = append(trace, append([]int(nil), v[off-d:off+d+1]...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || k != d && v[off+k-1] < v[off+k+1] {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				return backtrack(trace, a, b, d)
			}
		}
	}
	return nil
}

// backtrack walks the snapshots back from the end; trace[d] holds the
// furthest x per diagonal k (at index k+d) before step d.
func backtrack(trace [][]int, a, b []string, d int) []byte {
	x, y := len(a), len(b)
	var rev []byte
	for ; d > 0; d-- {
		v := trace[d]
		k := x - y
		var pk int
		if k == -d || k != d && v[k-1+d] < v[k+1+d] {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := v[pk+d]
		py := px - pk
		for x > px && y > py {
			rev = append(rev, ' ')
			x--
			y--
		}
		if x == px {
			rev = append(rev, '+')
			y--
		} else {
			rev = append(rev, '-')
			x--
		}
	}
	for x > 0 && y > 0 {
		rev = append(rev, ' ')
		x--
		y--
	}
	out := make([]byte, len(rev))
	for i := range rev {
		out[i] = rev[len(rev)-1-i]
	}
	return out
}
